"""Prefect 3 around pure functions: retries on storage errors, a local server,
deployments on an interval schedule.

Flows and tasks stay thin: a project's task calls a pure function of its own and adds
what Prefect is for (retries, state, logs, schedules). This module holds the pieces
every such project repeats:

- :func:`retry_on` / :data:`STORAGE_RETRIES`: the retry condition and settings of a task
  that touches object storage (retried only on a transient
  :class:`tenfold.storage.StorageError`, never on a bug or bad data);
- :func:`start_server` / :func:`stop_server` / :func:`local_server`: ``prefect server
  start`` on 127.0.0.1 and a free port with its own ``PREFECT_HOME`` (sqlite), waited
  for and stopped by its process id (:func:`local_server` sends the logs still queued for
  it first, :func:`drain_api_logs`): what ``make <project>-server`` and test fixtures use;
- :func:`interval_deployment` and :func:`serve` (a process that runs a flow's
  scheduled runs itself), :func:`deploy_to_pool` (a deployment a work pool's worker
  runs) and :func:`wait_for_flow_run`.

Needs the ``flows`` extra (``prefect``); the server helpers import nothing of Prefect.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from tenfold.storage import is_transient

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun, State, TaskRun
    from prefect.deployments.runner import RunnerDeployment
    from prefect.flows import Flow
    from prefect.tasks import Task

# Environment for every Prefect process we start: no usage analytics.
QUIET_ENV = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


# --------------------------------------------------------------------------- retries


def retry_on(
    *types: type[BaseException], when: Callable[[BaseException], bool] | None = None
) -> Callable[[Task[..., Any], TaskRun, State[Any]], bool]:
    """A ``retry_condition_fn`` for ``@task``: retry only when the task failed with one of
    ``types`` (and ``when(exc)`` holds, if given)."""

    def condition(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
        try:
            state.result()
        except types as exc:
            return when(exc) if when is not None else True
        except Exception:
            return False
        return False

    return condition


def _transient(exc: BaseException) -> bool:
    return is_transient(exc)


# ``@task(**STORAGE_RETRIES)``: three more tries on a transient storage error, after 2,
# 10 and 30 seconds (jittered), and no result caching (inputs are frames and clients).
STORAGE_RETRIES: Mapping[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": [2, 10, 30],
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": retry_on(OSError, when=_transient),
}


def no_cache() -> Any:
    """Prefect's ``NO_CACHE`` policy (tasks that take frames, models or clients)."""
    from prefect.cache_policies import NO_CACHE

    return NO_CACHE


# --------------------------------------------------------------------------- a local server


@dataclass(frozen=True)
class PrefectServer:
    """A ``prefect server start`` we launched: its API URL, home, process id and log."""

    api_url: str
    home: Path
    pid: int
    log: Path

    @property
    def env(self) -> dict[str, str]:
        """What a client process needs to talk to it."""
        return {"PREFECT_API_URL": self.api_url, "PREFECT_HOME": str(self.home), **QUIET_ENV}


PID_FILE = "server.pid"
URL_FILE = "server.url"


def _free_port() -> int:
    from tenfold.benchmark import free_port

    return free_port()


def healthy(api_url: str, timeout: float = 2.0) -> bool:
    """Whether the API at ``api_url`` answers its health check."""
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def start_server(
    home: Path,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    timeout: float = 180.0,
) -> PrefectServer:
    """Start ``prefect server start`` on ``host`` and ``port`` (a free one by default)
    with ``PREFECT_HOME=home`` (its sqlite database lives there), wait until its API is
    healthy, and write ``home/server.pid`` and ``home/server.url``. The server runs in
    its own session, so it outlives the caller until :func:`stop_server`."""
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    port = port or _free_port()
    api_url = f"http://{host}:{port}/api"
    if healthy(api_url):
        raise RuntimeError(f"something already answers on {api_url}: not starting another")
    log = home / "server.log"
    env = {**os.environ, "PREFECT_HOME": str(home), **QUIET_ENV}
    env.pop("PREFECT_API_URL", None)  # the server is not a client of another server
    command = [sys.executable, "-m", "prefect", "server", "start"]
    command += ["--host", host, "--port", str(port), "--analytics-off"]
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    server = PrefectServer(api_url, home, process.pid, log)
    deadline = time.monotonic() + timeout
    while not healthy(api_url):
        if process.poll() is not None:
            raise RuntimeError(
                f"prefect server exited with code {process.returncode}: {_tail(log)}"
            )
        if time.monotonic() > deadline:
            stop_server(server)
            raise TimeoutError(f"prefect server not healthy after {timeout:.0f} s: {_tail(log)}")
        time.sleep(0.5)
    (home / PID_FILE).write_text(f"{process.pid}\n", encoding="utf-8")
    (home / URL_FILE).write_text(f"{api_url}\n", encoding="utf-8")
    return server


def stop_server(server: PrefectServer | Path, *, timeout: float = 30.0) -> bool:
    """Stop a server we started (a :class:`PrefectServer`, or its home folder holding
    ``server.pid``): SIGTERM to its process group, SIGKILL after ``timeout``. False
    when there was nothing to stop."""
    if isinstance(server, Path):
        pid_file = server / PID_FILE
        if not pid_file.is_file():
            return False
        pid = int(pid_file.read_text(encoding="utf-8").strip())
        home = server
    else:
        pid, home = server.pid, server.home
    stopped = _terminate(pid, timeout)
    for name in (PID_FILE, URL_FILE):
        (home / name).unlink(missing_ok=True)
    return stopped


def _terminate(pid: int, timeout: float) -> bool:
    try:
        os.killpg(pid, signal.SIGTERM)  # the server and the workers it spawned
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    return True


def _alive(pid: int) -> bool:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
    except ChildProcessError:
        finished = 0
    if finished == pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _tail(log: Path, lines: int = 15) -> str:
    text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def local_server(
    home: Path, *, port: int | None = None, timeout: float = 180.0
) -> Iterator[PrefectServer]:
    """A Prefect server for the ``with`` block (started, waited for, stopped by PID)."""
    server = start_server(home, port=port, timeout=timeout)
    try:
        yield server
    finally:
        drain_api_logs()
        stop_server(server)


def drain_api_logs(timeout: float = 10.0) -> None:
    """Send the flow and task logs this process still holds for a Prefect API now, before
    its server stops (Prefect sends them in the background; left for the interpreter's
    exit, they fail with "Error logging to API")."""
    if "prefect" not in sys.modules:
        return
    from prefect.logging.handlers import APILogWorker

    with contextlib.suppress(Exception):  # nothing to send, or a worker already stopped
        APILogWorker.drain_all(timeout=timeout, at_exit=False)


@contextlib.contextmanager
def client_env(api_url: str, home: Path) -> Iterator[None]:
    """Point this process (and the processes it starts) at the Prefect API ``api_url``
    with ``PREFECT_HOME=home`` for the ``with`` block."""
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    names = ("PREFECT_API_URL", "PREFECT_HOME", *QUIET_ENV)
    before = {name: os.environ.get(name) for name in names}
    os.environ.update({"PREFECT_API_URL": api_url, "PREFECT_HOME": str(home), **QUIET_ENV})
    try:
        with temporary_settings({PREFECT_API_URL: api_url, PREFECT_HOME: str(home)}):
            yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass(frozen=True)
class Api:
    """The Prefect API a command uses and where it came from: ``PREFECT_API_URL``, the
    long-running local server (``make <project>-server``), or one started for it."""

    url: str
    origin: str


@contextlib.contextmanager
def prefect_api(root: Path) -> Iterator[Api]:
    """A Prefect API for the ``with`` block, never Prefect's slow and noisy temporary
    in-process server: ``PREFECT_API_URL`` when set; else the server
    :func:`start_server` left running in ``root/server``; else a server started now in
    ``root/embedded`` and stopped at the end (the embedded default)."""
    configured = os.environ.get("PREFECT_API_URL")
    if configured:
        home = Path(os.environ.get("PREFECT_HOME") or root / "client")
        with client_env(configured, home):
            yield Api(configured, "PREFECT_API_URL")
        return
    running = root / "server"
    url_file = running / URL_FILE
    if url_file.is_file() and healthy(url := url_file.read_text(encoding="utf-8").strip()):
        with client_env(url, running):
            yield Api(url, f"the local server in {running}")
        return
    with local_server(root / "embedded") as server, client_env(server.api_url, server.home):
        yield Api(server.api_url, "started for this command")


# --------------------------------------------------------------------------- deployments


def interval_deployment(
    flow: Flow[..., Any],
    name: str,
    *,
    every: dt.timedelta,
    parameters: Mapping[str, Any] | None = None,
    description: str | None = None,
    tags: Sequence[str] = (),
) -> RunnerDeployment:
    """A deployment of ``flow`` that runs every ``every``, found by module path (so a
    served flow runs wherever the package is installed, editable or not)."""
    from prefect.types.entrypoint import EntrypointType

    deployment = flow.to_deployment(
        name=name,
        interval=every,
        parameters=dict(parameters or {}),
        description=description,
        tags=list(tags),
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    return cast("RunnerDeployment", deployment)  # sync call: not the coroutine variant


def serve(*deployments: RunnerDeployment, limit: int = 1) -> None:
    """Register ``deployments`` with the API and run their scheduled runs in this
    process until interrupted (``limit`` runs at a time; one keeps a retraining from
    racing itself)."""
    import prefect

    prefect.serve(*deployments, limit=limit, print_starting_message=True)


def ensure_work_pool(name: str, pool_type: str = "process") -> None:
    """Create the work pool ``name`` unless it exists."""
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=name, type=pool_type))


def deploy_to_pool(
    source: Path,
    entrypoint: str,
    *,
    name: str,
    work_pool: str,
    every: dt.timedelta,
    parameters: Mapping[str, Any] | None = None,
) -> str:
    """Deploy the flow at ``source/entrypoint`` (``"flows.py:retrain"``) to ``work_pool``
    (created as a process pool if missing) on an interval; return the deployment id. A
    worker (``prefect worker start --pool <work_pool>``) then runs its flow runs."""
    from prefect import flow

    ensure_work_pool(work_pool)
    remote = cast("Flow[..., Any]", flow.from_source(source=str(source), entrypoint=entrypoint))
    deployment_id = remote.deploy(
        name=name,
        work_pool_name=work_pool,
        interval=every,
        parameters=dict(parameters or {}),
        build=False,
        push=False,
        print_next_steps=False,
        ignore_warnings=True,
    )
    return str(deployment_id)


def run_worker_once(
    work_pool: str, *, env: Mapping[str, str], timeout: float = 600.0
) -> subprocess.CompletedProcess[str]:
    """``prefect worker start --pool <work_pool> --run-once``: pick up the runs due now,
    execute them, exit."""
    command = [sys.executable, "-m", "prefect", "worker", "start"]
    command += ["--pool", work_pool, "--run-once", "--type", "process"]
    return subprocess.run(
        command,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_for_flow_run(flow_run_id: Any, *, timeout: float = 600.0, poll: float = 1.0) -> FlowRun:
    """The flow run once it reached a final state (a ``TimeoutError`` otherwise)."""
    from prefect import get_client

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(flow_run_id)
            if run.state is not None and run.state.is_final():
                return run
            if time.monotonic() > deadline:
                state = run.state.name if run.state else "no state"
                raise TimeoutError(f"flow run {flow_run_id} still {state} after {timeout:.0f} s")
            time.sleep(poll)
