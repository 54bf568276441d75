"""`python -m churn serve` as a real process: the champion is loaded from the registry in
lifespan and answers over loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from churn.serve import EXAMPLE
from churn.train import MODEL_REQUIREMENTS
from tenfold import tracking


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str, body: dict[str, object] | None = None) -> tuple[int, dict[str, object]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.service
def test_serve_command_loads_the_champion(isolated_tracking: Path, small_model) -> None:  # type: ignore[no-untyped-def]
    pipeline, data = small_model
    with tracking.start_run("churn", "train"):
        logged = tracking.log_sklearn_model(
            pipeline,
            input_example=data.X_train.head(3),
            requirements=MODEL_REQUIREMENTS,
            metadata={"decision_threshold": 0.4, "candidate": "xgboost", "telco_schema": True},
        )
    tracking.register(logged.model_uri, "churn")
    port = free_port()
    env = {**os.environ, "TENFOLD_STATE_DIR": str(isolated_tracking)}
    server = subprocess.Popen(
        [sys.executable, "-m", "churn", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                status, body = get(f"http://127.0.0.1:{port}/ready")
                if status == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, server.stdout.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.3)
        assert body == {"status": "ready", "model": "churn", "version": "1"}
        status, prediction = get(f"http://127.0.0.1:{port}/v1/predict", EXAMPLE)
        assert status == 200
        assert prediction["threshold"] == 0.4
        status, error = get(f"http://127.0.0.1:{port}/v1/predict", {**EXAMPLE, "tenure": "x"})
        assert status == 422
        assert error["detail"][0]["field"] == "tenure"
    finally:
        server.terminate()
        server.wait(timeout=30)
