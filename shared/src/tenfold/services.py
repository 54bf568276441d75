"""Real services started natively for a project's demo, its tests and CI: a throwaway
PostgreSQL cluster (Debian's server) and a Redis server, each on a free loopback port,
stopped when the block ends. Library code, not test code: ``make mlops-demo`` runs on
them, and the tests import them through :mod:`tenfold.testing`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# --------------------------------------------------------------------------- PostgreSQL

PG_BIN = Path("/usr/lib/postgresql/15/bin")


@dataclass
class PostgresServer:
    """A throwaway PostgreSQL cluster (Debian's server) on 127.0.0.1: its SQLAlchemy
    URL, and :meth:`crash` / :meth:`start` to kill it hard and bring it back on the same
    port and data (crash recovery), as a durability test needs."""

    directory: Path
    port: int
    fsync: bool = True

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://app@127.0.0.1:{self.port}/app"

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def _as_postgres(self, *command: str) -> None:
        import subprocess

        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.directory}"
        if not self.fsync:
            options += " -c fsync=off"
        self._as_postgres(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.directory / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        )

    def pid(self) -> int | None:
        pid_file = self.data / "postmaster.pid"
        if not pid_file.is_file():
            return None
        return int(pid_file.read_text(encoding="utf-8").splitlines()[0])

    def crash(self) -> None:
        """SIGKILL to the postmaster (and so its backends die with it): a crash."""
        import os
        import signal
        import time

        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        # the orphaned backends notice their postmaster is gone and exit; wait for the port
        while _port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        """Fast shutdown (SIGINT), waited for."""
        import os
        import signal
        import time

        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + 30
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)


def _pid_alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def postgres_available() -> bool:
    """Whether Debian's PostgreSQL 15 server is installed (``apt-get install postgresql``)."""
    return (PG_BIN / "initdb").is_file()


@contextmanager
def postgres(*, fsync: bool = False) -> Iterator[PostgresServer]:
    """A PostgreSQL cluster for the block: ``initdb`` (as the ``postgres`` user, which
    ``initdb`` requires when running as root) in a new folder under the system's
    temporary directory (pytest's own are private to root), started on a free port with
    trust authentication for ``app`` and a database ``app``; stopped and removed at the
    end. ``fsync=True`` for a durability test (off by default: faster)."""
    import os
    import shutil
    import subprocess
    import tempfile

    from tenfold.benchmark import free_port

    if not postgres_available():
        raise RuntimeError(f"no PostgreSQL server at {PG_BIN}: apt-get install postgresql")
    directory = Path(tempfile.mkdtemp(prefix="tenfold-postgres-"))
    directory.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    server = PostgresServer(directory, free_port(), fsync=fsync)
    server._as_postgres(
        str(PG_BIN / "initdb"),
        "-D",
        str(server.data),
        "-U",
        "app",
        "--auth=trust",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
    )
    server.start()
    try:
        subprocess.run(
            [
                str(PG_BIN / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(server.port),
                "-U",
                "app",
                "app",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


# --------------------------------------------------------------------------- Redis


@contextmanager
def redis_server(binary: str | None = None) -> Iterator[str]:
    """Debian's ``redis-server`` on 127.0.0.1 (a free port, no persistence) in a
    temporary folder; yields its URL and stops it by its PID when the block ends.
    Raises FileNotFoundError when redis-server is not installed."""
    import os
    import shutil
    import signal
    import subprocess
    import tempfile
    import time

    import redis

    from tenfold.benchmark import free_port

    binary = binary or shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError("redis-server not installed (apt-get install -y redis-server)")
    with tempfile.TemporaryDirectory(prefix="tenfold-redis-") as tmp:
        folder = Path(tmp)
        port = free_port()
        pidfile = folder / "redis.pid"
        subprocess.run(
            [
                binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                "--appendonly", "no", "--daemonize", "yes", "--pidfile", str(pidfile),
                "--dir", str(folder), "--logfile", str(folder / "redis.log"),
            ],
            check=True,
        )  # fmt: skip
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url)
        try:
            for _ in range(100):
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.05)
            yield url
        finally:
            client.close()
            if pidfile.is_file():
                os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
