"""The README's app screenshot: the real app on the registered champion, in headless
Chromium, captured once the page shows both sections (after `make forecasting`).

    uv run python projects/forecasting/scripts/screenshot.py [out.png]

Starts Streamlit and Chromium (Debian's ``chromium``; ``apt-get install -y chromium``) on
free ports and stops both by their process ids. Chromium is driven over the DevTools
protocol (the ``websockets`` client uvicorn already installs): the page is polled until
its text holds the forecast section's caption, because the app's first run loads the
champion and reads the backtest from MLflow in real time, which ``--screenshot
--virtual-time-budget`` does not wait for.
"""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

from tenfold.benchmark import free_port

ROOT = Path(__file__).resolve().parents[3]
APP = ROOT / "projects" / "forecasting" / "src" / "forecasting" / "app.py"
DONE = "hours from"  # the forecast section's caption: the last thing the app draws
WIDTH, HEIGHT = 1400, 2350


def wait_for(url: str, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return str(response.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def main(out: Path) -> None:
    app_port, debug_port = free_port(), free_port()
    streamlit = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", str(APP),
            "--server.address", "127.0.0.1", "--server.port", str(app_port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    profile = tempfile.mkdtemp(prefix="chromium-")
    browser = subprocess.Popen(
        [
            "chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--remote-debugging-port={debug_port}", f"--user-data-dir={profile}",
            f"--window-size={WIDTH},{HEIGHT}", "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{app_port}/_stcore/health", 90)
        pages = json.loads(wait_for(f"http://127.0.0.1:{debug_port}/json/list", 30))
        target = next(p for p in pages if p["type"] == "page")["webSocketDebuggerUrl"]
        with connect(target, max_size=None) as ws:
            ids = itertools.count(1)

            def call(method: str, **params: Any) -> dict[str, Any]:
                number = next(ids)
                ws.send(json.dumps({"id": number, "method": method, "params": params}))
                while True:
                    message = json.loads(ws.recv())
                    if message.get("id") == number:
                        result: dict[str, Any] = message.get("result", {})
                        return result

            call("Page.navigate", url=f"http://127.0.0.1:{app_port}/")
            deadline = time.monotonic() + 300
            while True:
                text = call("Runtime.evaluate", expression="document.body.innerText")
                if DONE in str(text.get("result", {}).get("value", "")):
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError("the app did not finish drawing in 5 minutes")
                time.sleep(1)
            time.sleep(3)  # the charts' images arrive after the text
            shot = call("Page.captureScreenshot", format="png")
        out.write_bytes(base64.b64decode(shot["data"]))
        print(f"screenshot → {out}")
    finally:
        for process in (browser, streamlit):
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else APP.parents[2] / "reports" / "app.png")
