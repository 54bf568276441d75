"""A throwaway redis-server on 127.0.0.1 (a free port) for the benchmarks, stopped by PID."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """Yields the server's URL; stops it (by its PID file) when the block ends."""
    import redis

    from tenfold.benchmark import free_port

    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not installed: apt-get install -y redis-server")
    with tempfile.TemporaryDirectory(prefix="recsys-bench-redis-") as tmp:
        folder = Path(tmp)
        port = free_port()
        pidfile = folder / "redis.pid"
        subprocess.run(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
                "--pidfile",
                str(pidfile),
                "--dir",
                str(folder),
                "--logfile",
                str(folder / "redis.log"),
            ],
            check=True,
        )
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url)
        for _ in range(100):
            with contextlib.suppress(redis.ConnectionError):
                client.ping()
                break
            time.sleep(0.05)
        client.close()
        try:
            yield url
        finally:
            if pidfile.is_file():
                os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
