"""`llmsim report`: plots (PNG, matplotlib optional) and a Markdown summary from a run's event log."""
