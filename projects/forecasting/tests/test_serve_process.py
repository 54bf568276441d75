"""`python -m forecasting serve` as a real process: the registered champion of a small run
is loaded from the registry in lifespan and answers over loopback, /health included while
a week is forecast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from typing import Any

import pytest

from tenfold.benchmark import free_port, wait_ready


def get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.service
def test_serve_command_answers_forecasts(champion_store: dict[str, Any]) -> None:
    port = free_port()
    env = {
        **os.environ,
        "TENFOLD_STATE_DIR": str(champion_store["state"]),
        "TENFOLD_MODEL_URI": champion_store["uri"],
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "forecasting", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(port, timeout=120, process=server)
        status, ready = get(f"{base}/ready")
        assert ready == {
            "status": "ready",
            "model": "forecasting-synthetic",
            "version": champion_store["version"],
        }
        week: dict[str, Any] = {}
        worker = threading.Thread(
            target=lambda: week.update(get(f"{base}/v1/forecast?hours=168")[1])
        )
        worker.start()
        assert get(f"{base}/health") == (200, {"status": "ok"})  # the loop is not blocked
        worker.join(timeout=60)
        assert len(week["points"]) == 168
        status, error = get(f"{base}/v1/forecast?hours=0")
        assert status == 422
        assert error["detail"][0]["field"] == "hours"
    finally:
        server.terminate()
        server.wait(timeout=30)
