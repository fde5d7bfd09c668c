"""The report in a real browser: headless Chromium driven over the DevTools protocol.

A reviewer opens report.html and reads the first screen. This renders a report from the fixture
results, opens it offline in Chromium at 1280x800 and checks: the verdict and the routing table
are inside the first viewport, every plot has a non-zero size, nothing logs to the console as an
error, and the page makes no network request (self-contained: no CDN, fonts or scripts).

Skipped, with the reason, only when no Chromium is installed (``.ci/run`` installs Debian's
``chromium`` when /usr/bin/chromium is missing).

Run as a script to take a screenshot and measure a report's page height:

    python tests/report/test_report_browser.py runs/demo/report.html --screenshot docs/report.png
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "", shutil.which("chromium-browser")
                             or "") if p and Path(p).exists()), None)
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0", "--remote-allow-origins=*")
VIEWPORT = (1280, 800)


class Browser:
    """One Chromium process and a CDP session on its first page (websocket-client, synchronous)."""

    def __init__(self, width: int = VIEWPORT[0], height: int = VIEWPORT[1]) -> None:
        import websocket

        self.profile = tempfile.mkdtemp(prefix="offtarget-chromium-")
        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}",
                                      f"--window-size={width},{height}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.time() + 60
        while not port_file.exists() or len(port_file.read_text().splitlines()) < 2:
            if time.time() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.1)
        port = port_file.read_text().splitlines()[0]
        import urllib.request

        pages = []
        while not pages and time.time() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            time.sleep(0.1)
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=60,
                                              suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=False)
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(e.get("method") == method for e in self.events):
                return
            msg = json.loads(self.ws.recv())
            self.events.append(msg)
        raise TimeoutError(method)

    def open(self, path: Path) -> None:
        self.call("Page.navigate", url=path.resolve().as_uri())
        self.wait_for("Page.loadEventFired")

    def js(self, expression: str):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError(r["exceptionDetails"])
        return r["result"].get("value")

    def screenshot(self, out: Path, full_page: bool = False) -> None:
        params = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            h = self.js("document.documentElement.scrollHeight")
            params["clip"] = {"x": 0, "y": 0, "width": VIEWPORT[0], "height": h, "scale": 1}
        out.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", **params)["data"]))

    def console_errors(self) -> list[str]:
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(str(p.get("args")))
            elif e.get("method") == "Runtime.exceptionThrown":
                out.append(str(p.get("exceptionDetails")))
            elif e.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(p["entry"].get("text", ""))
        return out

    def requests(self) -> list[str]:
        """URLs the page asked for beyond the report file itself."""
        return [e["params"]["request"]["url"] for e in self.events
                if e.get("method") == "Network.requestWillBeSent"
                and not e["params"]["request"]["url"].startswith("file://")]

    def close(self) -> None:
        if getattr(self, "ws", None) is not None:
            self.ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


LAYOUT_JS = """(() => {
  const rect = el => { const r = el.getBoundingClientRect(); return [r.top, r.bottom, r.width, r.height]; };
  const verdict = document.querySelector('#verdict .verdict .sentence');
  const routing = document.querySelector('#verdict table.routing');
  document.querySelectorAll('details').forEach(d => d.open = true);
  const svgs = Array.from(document.querySelectorAll('svg')).map(s => { const r = s.getBoundingClientRect();
                                                                     return [r.width, r.height]; });
  document.querySelectorAll('details').forEach(d => d.open = false);
  return {verdict: verdict && rect(verdict), routing: routing && rect(routing), svgs,
          lines: Array.from(document.querySelectorAll('#verdict .vlines li')).map(li => rect(li)),
          height: document.documentElement.scrollHeight};
})()"""


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("no Chromium installed (Debian: apt-get install chromium; .ci/run installs it)")
    pytest.importorskip("websocket", reason="websocket-client is needed to drive Chromium over CDP")
    b = Browser()
    yield b
    b.close()


def test_report_opens_offline_with_the_verdict_on_the_first_screen(browser, results, tmp_path):
    from offtarget.report.render import render_all

    render_all(results, tmp_path)
    browser.open(tmp_path / "report.html")
    layout = browser.js(LAYOUT_JS)
    _width, height = VIEWPORT
    assert layout["verdict"] is not None, "no verdict sentence in the page"
    assert 0 <= layout["verdict"][0] and layout["verdict"][1] <= height
    # the fixture has two tuned checkpoints; each verdict's lines and the routing table fit the first screen
    assert layout["lines"] and all(0 <= top and bottom <= height for top, bottom, _, _ in layout["lines"])
    assert layout["routing"] is not None and layout["routing"][1] <= height
    assert len(layout["svgs"]) >= 5
    assert all(w > 0 and h > 0 for w, h in layout["svgs"]), layout["svgs"]
    assert browser.console_errors() == []
    assert browser.requests() == []


def main(argv: list[str]) -> None:
    """``REPORT.html [--screenshot PNG]``: print the page height at 1280 wide and the first-screen layout."""
    path = Path(argv[0])
    b = Browser()
    try:
        b.open(path)
        layout = b.js(LAYOUT_JS)
        print(json.dumps({"page_height_px": layout["height"], "verdict": layout["verdict"],
                          "routing": layout["routing"], "plots": len(layout["svgs"]),
                          "console_errors": b.console_errors(), "requests": b.requests()}))
        if "--screenshot" in argv:
            b.screenshot(Path(argv[argv.index("--screenshot") + 1]))
    finally:
        b.close()


if __name__ == "__main__":
    main(sys.argv[1:])
