"""The compose file and the Prometheus config are valid for the tools that read them."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from mlops.config import PROJECT_DIR
from mlops.demo import prometheus_config


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose missing")
def test_compose_file_is_valid() -> None:
    done = subprocess.run(
        ["docker-compose", "-f", str(PROJECT_DIR / "docker-compose.yml"), "config", "--services"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.split()) >= {
        "api",
        "postgres",
        "mlflow",
        "prefect",
        "worker",
        "prometheus",
        "grafana",
    }


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool missing")
@pytest.mark.parametrize("source", ["deploy", "demo"])
def test_prometheus_configs_pass_promtool(source: str, tmp_path: object) -> None:
    from pathlib import Path

    path = PROJECT_DIR / "deploy" / "prometheus.yml"
    if source == "demo":
        path = Path(str(tmp_path)) / "prometheus.yml"
        path.write_text(prometheus_config({"api": "127.0.0.1:1", "monitor": "127.0.0.1:2"}))
    done = subprocess.run(
        ["promtool", "check", "config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
