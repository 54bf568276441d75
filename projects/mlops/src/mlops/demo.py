"""The whole scenario on real services (``make mlops-demo``): PostgreSQL, a Prefect
server, Prometheus, the API as its own process, simulated days with drift, the monitor,
the retraining flow, hot reload; a table and a timeline of what happened.

Runs in its own state folder (``.mlflow/mlops-demo``: MLflow store, spool, Prefect home,
drift reports), starting from a copy of the published champion, so the project's own
registry is never changed by the demo's automated promotions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.config import MlopsConfig
from tenfold import paths


@dataclass
class DemoResult:
    rows: list[dict[str, Any]] = field(default_factory=list)
    drift_day: int = 0
    detected_day: int | None = None
    promoted_day: int | None = None
    failed_requests: int = 0
    total_requests: int = 0
    versions_served: list[str] = field(default_factory=list)
    prometheus: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def windows_to_detection(self) -> int | None:
        """1 = the first drifted window was flagged."""
        if self.detected_day is None:
            return None
        return self.detected_day - self.drift_day + 1


def copy_champion(source_state: Path, target_state: Path, model_name: str) -> str:
    """The published champion registered as version 1 of the demo's own store."""
    import mlflow
    from mlflow import MlflowClient

    from tenfold import tracking

    with _state(source_state):
        record = tracking.load_sklearn_model(f"models:/{model_name}@champion")
    with _state(target_state):
        tracking.configure()
        mlflow.set_experiment("mlops-demo")
        with mlflow.start_run(run_name="published champion"):
            from mlops.data import make_synthetic
            from mlops.train import prepare

            example = prepare(make_synthetic(5, 0), MlopsConfig()).X
            logged = tracking.log_sklearn_model(
                record.model,
                input_example=example,
                requirements=("xgboost",),
                registered_model_name=model_name,
                metadata=record.metadata,
            )
        version = str(logged.registered_version)
        MlflowClient().set_registered_model_alias(model_name, "champion", version)
    return version


def state_env(folder: Path) -> dict[str, str]:
    """The environment that points tenfold and MLflow at the store in ``folder`` (MLflow
    keeps the last URI it was given in ``MLFLOW_TRACKING_URI``: it is set explicitly)."""
    uri = f"sqlite:///{(folder / 'mlflow.db').as_posix()}"
    return {
        "TENFOLD_STATE_DIR": str(folder),
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_REGISTRY_URI": uri,
    }


@contextlib.contextmanager
def _state(folder: Path) -> Iterator[None]:
    env = state_env(folder)
    before = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def api_process(port: int, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    from tenfold.benchmark import wait_ready

    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlops", "serve", "--port", str(port)],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(port, timeout=120, process=process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def prometheus(targets: dict[str, str], folder: Path) -> Iterator[str | None]:
    """Debian's prometheus scraping ``targets`` (job → host:port) every second; its URL
    (None when prometheus is not installed)."""
    from tenfold.benchmark import free_port, wait_ready

    binary = shutil.which("prometheus")
    if binary is None:
        yield None
        return
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "prometheus.yml"
    config.write_text(prometheus_config(targets), encoding="utf-8")
    port = free_port()
    with (folder / "prometheus.log").open("ab") as out:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(port, path="/-/ready", timeout=60, process=process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)


def prometheus_config(targets: dict[str, str], interval: str = "1s") -> str:
    jobs = "".join(
        f"  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
        for job, target in targets.items()
    )
    return (
        f"global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n"
        f"scrape_configs:\n{jobs}"
    )


def query(prometheus_url: str, promql: str) -> list[dict[str, Any]]:
    import urllib.parse
    import urllib.request

    url = f"{prometheus_url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    with urllib.request.urlopen(url, timeout=10) as answer:
        document = json.loads(answer.read())
    if document.get("status") != "success":
        raise RuntimeError(f"{promql}: {document}")
    result: list[dict[str, Any]] = document["data"]["result"]
    return result


def run_demo(cfg: MlopsConfig, out: Path, say: Callable[[str], None]) -> DemoResult:
    """The scenario (see the module's docstring); ``say`` prints progress lines."""
    from prometheus_client import start_http_server

    from mlops import data, flows, monitor, simulator, train
    from mlops.predictions import create_engine, database, migrate
    from tenfold.benchmark import free_port
    from tenfold.flows import prefect_api

    started = time.perf_counter()
    published = paths.state_dir()
    state = published / "mlops-demo"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    say(f"demo state in {state}")
    version = copy_champion(published, state, cfg.model_name)
    say(f"published champion copied in as {cfg.model_name} v{version}")
    result = DemoResult(drift_day=cfg.simulation.drift_day)
    frame, _ = data.load(cfg)
    split = train.split(train.prepare(frame, cfg), cfg)
    pool, y = split.X_test, split.y_test
    with contextlib.ExitStack() as stack, _state(state):
        url = os.environ.get("MLOPS_DATABASE_URL")
        if not url:
            from tenfold.services import postgres

            url = stack.enter_context(postgres(fsync=False)).url
            say(f"PostgreSQL started: {url}")
        migrate(url)
        api_port, monitor_port = free_port(), free_port()
        stack.enter_context(
            api_process(
                api_port,
                {
                    **state_env(state),
                    "MLOPS_DATABASE_URL": url,
                    "TENFOLD_RELOAD_SECONDS": "1",
                    "MLOPS_SPOOL_DIR": str(state / "spool"),
                },
                state / "api.log",
            )
        )
        base = f"http://127.0.0.1:{api_port}"
        say(f"API serving v{version} on {base}")
        metrics = monitor.MonitorMetrics.create()
        flows.METRICS["monitor"] = metrics
        server, _thread = start_http_server(
            monitor_port, addr="127.0.0.1", registry=metrics.registry
        )
        stack.callback(server.shutdown)
        prom = stack.enter_context(
            prometheus(
                {
                    "mlops-api": f"127.0.0.1:{api_port}",
                    "mlops-monitor": f"127.0.0.1:{monitor_port}",
                },
                state / "prometheus",
            )
        )
        api = stack.enter_context(prefect_api(state / "prefect"))
        say(f"Prefect API: {api.url} ({api.origin})")
        engine = create_engine(database(url))
        stack.callback(engine.dispose)
        sim = cfg.simulation
        days = [simulator.simulate_day(pool, y, sim, d, cfg.seed) for d in range(sim.days)]
        for day in days:
            sent = simulator.send(base, day.requests)
            result.total_requests += sent.ok + sent.failed
            result.failed_requests += sent.failed
            due = day.index - sim.label_delay_days
            if due >= 0:
                monitor.record_outcomes(engine, days[due].outcomes, day.date)
            check, retrained = flows.monitor_flow(
                day.date.isoformat(),
                url,
                str(state / "monitoring"),
            )
            row = {
                "day": day.index,
                "date": day.date.isoformat(),
                "drift_injected": day.drifted,
                "requests": sent.ok + sent.failed,
                "failed": sent.failed,
                "versions": dict(sorted(sent.versions.items())),
                "drift_share": check.drift_share,
                "drifted": check.drifted,
                "drifted_inputs": list(check.drifted_columns),
                "action": retrained.action if retrained else None,
                "candidate": retrained.version if retrained else None,
                "challenger_log_loss": retrained.challenger_score if retrained else None,
                "champion_log_loss": retrained.champion_score if retrained else None,
                "reason": retrained.reason if retrained else None,
            }
            result.rows.append(row)
            if check.drifted and day.drifted and result.detected_day is None:
                result.detected_day = day.index
            if retrained and retrained.action == "promote" and result.promoted_day is None:
                result.promoted_day = day.index
                time.sleep(2.5)  # the API polls the alias every second
            share = "–" if check.drift_share is None else f"{check.drift_share:.2f}"
            say(
                f"day {day.index:2d} {'DRIFT ' if day.drifted else '      '}"
                f"{sent.ok} ok / {sent.failed} failed, versions {row['versions']}, drift "
                f"{share}{', ' + retrained.action if retrained else ''}"
            )
        result.versions_served = sorted({v for r in result.rows for v in r["versions"]})
        if prom is not None:
            time.sleep(3)
            for name, promql in {
                "api_requests": 'sum(tenfold_http_requests_total{endpoint="/v1/predict"})',
                "model_swaps": "sum(tenfold_model_swaps_total)",
                "drift_share": "mlops_drift_share",
                "logged_rows": 'sum(mlops_prediction_log_rows_total{path="inserted"})',
            }.items():
                found = query(prom, promql)
                result.prometheus[name] = float(found[0]["value"][1]) if found else float("nan")
    result.seconds = time.perf_counter() - started
    write_demo(result, out)
    return result


def write_demo(result: DemoResult, out: Path) -> None:
    """``demo.json``, ``demo.md`` (the table) and ``demo_timeline.png``."""
    from tenfold.evaluation import save_figure
    from tenfold.repro import write_metrics

    out.mkdir(parents=True, exist_ok=True)
    document = {**dataclasses.asdict(result), "windows_to_detection": result.windows_to_detection}
    document.pop("seconds")
    write_metrics(out / "demo.json", document)
    (out / "demo.md").write_text(demo_table(result) + "\n", encoding="utf-8")
    save_figure(timeline(result), out / "demo_timeline.png")


def demo_table(result: DemoResult) -> str:
    from tenfold.reports import markdown_table

    def f(value: Any) -> str:
        return "–" if value is None else f"{value:.4f}"

    table = markdown_table(
        result.rows,
        [
            ("Day", lambda r: f"{r['day']}{' (drift)' if r['drift_injected'] else ''}"),
            ("Requests", lambda r: str(r["requests"])),
            ("Failed", lambda r: str(r["failed"])),
            ("Served by", lambda r: ", ".join(f"v{v}: {n}" for v, n in r["versions"].items())),
            (
                "Drift share",
                lambda r: "–" if r["drift_share"] is None else f"{r['drift_share']:.2f}",
            ),
            ("Response", lambda r: r["action"] or ""),
            (
                "Challenger / champion log-loss",
                lambda r: (
                    ""
                    if r["action"] in (None, "skip")
                    else f"{f(r['challenger_log_loss'])} / {f(r['champion_log_loss'])}"
                ),
            ),
        ],
    )
    n = result.windows_to_detection
    notes = [
        f"Drift injected from day {result.drift_day}; detected "
        + (f"in window {n} after injection (day {result.detected_day})" if n else "never")
        + "; "
        + (
            f"new champion promoted on day {result.promoted_day}"
            if result.promoted_day is not None
            else "no promotion"
        )
        + f"; {result.failed_requests} failed requests of "
        f"{result.total_requests}; versions served: {', '.join(result.versions_served)}.",
    ]
    return table + "\n\n" + "\n".join(notes)


def timeline(result: DemoResult) -> Any:
    from tenfold.evaluation import new_figure

    fig = new_figure(9, 4.5)
    ax = fig.subplots()
    days = [r["day"] for r in result.rows]
    versions = result.versions_served
    bottom = [0.0] * len(days)
    for version in versions:
        counts = [float(r["versions"].get(version, 0)) for r in result.rows]
        ax.bar(days, counts, bottom=bottom, label=f"served by v{version}", alpha=0.5)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    ax.set(
        xlabel="simulated day",
        ylabel="requests",
        title="Drift, detection, retraining and hot reload",
    )
    share = ax.twinx()
    share.plot(
        days,
        [r["drift_share"] if r["drift_share"] is not None else float("nan") for r in result.rows],
        color="tab:red",
        marker="o",
        label="drift share",
    )
    share.axhline(MlopsConfig().monitor.drift_threshold, color="tab:red", ls=":", label="threshold")
    share.set(ylabel="share of drifted inputs", ylim=(0, 1.05))
    ax.axvline(result.drift_day - 0.5, color="black", ls="--", label="drift injected")
    for r in result.rows:
        if r["action"] in ("keep", "promote", "skip"):
            share.annotate(
                r["action"],
                (r["day"], r["drift_share"] or 0),
                textcoords="offset points",
                xytext=(0, 8),
                ha="center",
                fontsize=8,
            )
    lines = ax.get_legend_handles_labels()
    more = share.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="upper left")
    return fig


def demo_section(document: dict[str, Any]) -> str:
    """The README's scenario section, from ``reports/demo/demo.json``."""
    known = {f.name for f in dataclasses.fields(DemoResult)}
    return demo_table(DemoResult(**{k: v for k, v in document.items() if k in known}))


def _optional(row: Mapping[str, Any], key: str) -> str:
    return f"{row[key]:.3f}" if key in row else "–"


def load_section(document: dict[str, Any]) -> str:
    """The README's load section, from ``reports/load.json``."""
    from tenfold.reports import markdown_table

    rows = [{"mode": mode, **values} for mode, values in document["modes"].items()]
    table = markdown_table(
        rows,
        [
            ("Mode", lambda r: r["mode"]),
            ("Requests", lambda r: f"{r['requests']:.0f}"),
            ("Requests/s", lambda r: f"{r['requests_per_s']:.0f}"),
            ("p50 ms", lambda r: f"{r['p50_ms']:.2f}"),
            ("p99 ms", lambda r: f"{r['p99_ms']:.2f}"),
            ("Errors", lambda r: f"{r['errors']:.0f}"),
            ("Rows logged", lambda r: f"{r['rows_logged']:.0f}" if "rows_logged" in r else "–"),
            ("API CPU ms/req", lambda r: _optional(r, "api_cpu_ms")),
            ("PostgreSQL CPU ms/req", lambda r: _optional(r, "postgres_cpu_ms")),
        ],
    )
    over = document["overhead"]
    return (
        f"{table}\n\n{document['seconds']} s per mode, {document['connections']} "
        f"connections (wrk, loopback, same run). Logging overhead: p50 "
        f"{over['p50_ms']:+.2f} ms, p99 {over['p99_ms']:+.2f} ms, throughput × "
        f"{over['throughput_ratio']:.2f}"
        + (
            f", API CPU per request × {over['api_cpu_ratio']:.2f}."
            if "api_cpu_ratio" in over
            else "."
        )
    )
