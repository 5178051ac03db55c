"""The Chart page's candle chart: 5,000 candles (with volume, 200 entry/exit markers and 4 price lines)
drawn by the dashboard's own widget (static/js/widgets/candles.js over the vendored lightweight-charts) in
Debian's Chromium, from creating the chart to the second animation frame after the data is set (the
frame in which it has painted). Target: under 200 ms. Baseline in the same run: uPlot drawing the same
5,000 closes as a line, timed the same way. Median of --runs fresh charts each.

Run: python3 bench/chart_draw.py [--candles 5000] [--runs 9]
"""
from __future__ import annotations

import argparse
import functools
import http.server
import statistics
import sys
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 200.0
PAGE = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="/static/vendor/uplot/uPlot.min.css">
<script src="/static/vendor/uplot/uPlot.iife.min.js"></script></head>
<body style="margin:0;background:#0f1419"><div id="box" style="width:1400px;height:600px"></div>
<script type="module">
import { candleChart } from "/static/js/widgets/candles.js";
const frames = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
function candles(n) {          // a seeded random walk, one minute apart
  let seed = 42, price = 100;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const out = [], t0 = Date.UTC(2026, 0, 1);
  for (let i = 0; i < n; i++) {
    const open = price, close = open * (1 + (rnd() - 0.5) * 0.004);
    out.push([t0 + i * 60000, open, Math.max(open, close) * (1 + rnd() * 0.001), Math.min(open, close) * (1 - rnd() * 0.001), close, 1000 + rnd() * 5000]);
    price = close;
  }
  return out;
}
window.bench = async (n, runs) => {
  const rows = candles(n), box = document.getElementById("box");
  const markers = [];
  for (let i = 0; i < 100; i++) {
    const a = Math.floor(i * n / 100), b = Math.min(n - 1, a + 10);
    markers.push({ kind: "entry", time_ms: rows[a][0], price: rows[a][4], side: i % 2 ? "LONG" : "SHORT" });
    markers.push({ kind: "exit", time_ms: rows[b][0], price: rows[b][4], side: i % 2 ? "LONG" : "SHORT", reason: "stop" });
  }
  const last = rows[n - 1][4];
  const lines = [{ kind: "entry", price: last }, { kind: "stop", price: last * 0.99 }, { kind: "take_profit", price: last * 1.02 },
    { kind: "liquidation", price: last * 0.7 }];
  const lw = [], up = [];
  for (let r = 0; r < runs; r++) {
    box.replaceChildren(); await frames();
    let t = performance.now();
    const c = candleChart(box, { precision: 4, tick: 0.0001 });
    c.setCandles(rows); c.setMarkers(markers); c.setLines(lines); c.zoom(null, null);
    await frames();
    lw.push(performance.now() - t);
    if (Number(box.dataset.candles) !== n) throw new Error("not every candle was set");
    c.destroy();
    box.replaceChildren(); await frames();
    t = performance.now();
    const data = [rows.map((k) => k[0] / 1000), rows.map((k) => k[4])];
    const u = new uPlot({ width: 1400, height: 600, series: [{}, { stroke: "#3b82f6" }], scales: { x: { time: true } } }, data, box);
    await frames();
    up.push(performance.now() - t);
    u.destroy();
  }
  return { lw, up };
};
window.benchReady = true;
</script></body></html>"""


class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the http.server API
        if self.path.startswith("/bench.html"):
            body = PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, *args):
        pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candles", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args()
    Handler.extensions_map = {**Handler.extensions_map, ".js": "text/javascript", ".mjs": "text/javascript"}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(ROOT)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                         args=["--headless=new", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 700})
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/bench.html")
            page.wait_for_function("() => window.benchReady === true")
            page.evaluate(f"() => window.bench({args.candles}, 2)")          # warm-up: module and JIT
            result = page.evaluate(f"() => window.bench({args.candles}, {args.runs})")
            version = browser.version
            browser.close()
    finally:
        server.shutdown()
    lw, up = statistics.median(result["lw"]), statistics.median(result["up"])
    print(f"Chromium {version}, {args.candles} candles, median of {args.runs} fresh charts")
    print(f"lightweight-charts candles+volume+markers+lines: {lw:.1f} ms (min {min(result['lw']):.1f}, "
          f"max {max(result['lw']):.1f}); {lw / TARGET_MS:.2f} of the {TARGET_MS:.0f} ms target")
    print(f"uPlot line of the same closes (baseline):        {up:.1f} ms (min {min(result['up']):.1f}, "
          f"max {max(result['up']):.1f}); candles / uPlot = {lw / up:.2f}")
    return 0 if lw < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
