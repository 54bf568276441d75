"""Fixtures for the automl-bench tests: small tasks, a cheap profile, a throwaway PostgreSQL."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl_bench.config import Profile
from automl_bench.data import Task
from tenfold.data import DataSource


def make_task(n: int = 300, seed: int = 0) -> Task:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "colour": rng.choice(["red", "green", "blue"], n).astype(object),
        }
    )
    y = ((X["a"] + 0.5 * (X["colour"] == "red") + rng.normal(0, 0.5, n)) > 0).astype(np.int64)
    source = DataSource(dataset="toy", kind="synthetic", origin="synthetic")
    return Task("toy", "binary", X, y.to_numpy(), source, "stratified", "toy task")


@pytest.fixture
def toy_task() -> Task:
    return make_task()


@pytest.fixture
def tiny_profile() -> Profile:
    return Profile(
        name="test", folds=3, cores=1, memory_gb=4, workers=2, iterations=2, time_limit=300
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PGBIN = Path("/usr/lib/postgresql/15/bin")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free port (Debian's ``postgresql`` package, as
    .ci/run installs it); started as the postgres user, stopped at the end."""
    import os

    if given := os.environ.get("AUTOML_BENCH_TEST_POSTGRES_URL"):
        yield given
        return
    if not (PGBIN / "initdb").is_file() or shutil.which("runuser") is None:
        if os.environ.get("CI"):
            pytest.fail(
                "CI must run the PostgreSQL tests: .ci/run sets AUTOML_BENCH_TEST_POSTGRES_URL"
            )
        pytest.skip("PostgreSQL 15 is not installed (apt-get install -y postgresql; .ci/run does)")
    folder = Path(tempfile.mkdtemp(prefix="automl-bench-pg-"))
    shutil.chown(folder, "postgres", "postgres")
    port = _free_port()
    as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [
            *as_postgres,
            str(PGBIN / "initdb"),
            "-D",
            str(folder / "data"),
            "-U",
            "app",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *as_postgres,
            str(PGBIN / "pg_ctl"),
            "-D",
            str(folder / "data"),
            "-l",
            str(folder / "server.log"),
            "-w",
            "-t",
            "30",
            "-o",
            f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(
            [
                *as_postgres,
                str(PGBIN / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "app",
                "app",
            ],
            check=True,
            capture_output=True,
        )
        yield f"postgresql+psycopg://app@127.0.0.1:{port}/app"
    finally:
        pid = (folder / "data" / "postmaster.pid").read_text().split()[0]
        subprocess.run(["kill", "-INT", pid], check=False)
        shutil.rmtree(folder, ignore_errors=True)
