"""Run outputs: the structured event log, the Chrome trace, requests.jsonl and stats.json."""
