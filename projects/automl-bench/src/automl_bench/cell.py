"""One cell of the grid: a framework fitted on one outer fold of one dataset, within the
profile's constraints, and scored on the fold's test rows.

The framework runs in a child process forked from a warm fork server (the heavy
libraries are imported once per Dask worker, not once per job). The parent watches it:
past the hard time limit it is killed (``timeout``), past the memory limit of the whole
process tree it is killed (``memory``), and an exception or a dead child is a ``crash``.
A failed cell is scored as the constant predictor on the same fold, with its cause kept,
as AMLB does: failures are never dropped.
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import tempfile
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from automl_bench.config import METRICS, Profile
from automl_bench.data import Task, outer_folds, subsample
from automl_bench.frameworks import Budget, FoldData, make
from automl_bench.scoring import score

Status = Literal["ok", "failed"]
# the fold number of a task's published holdout split (Telco: churn's test split)
HOLDOUT = -1
# what a fork server imports once, per framework (then every job starts warm)
PRELOAD = {
    "constant": ["numpy", "pandas", "sklearn.metrics"],
    "lightgbm": ["lightgbm"],
    "manual": ["lightgbm", "xgboost", "catboost", "optuna", "automl_bench.manual"],
    "flaml": ["flaml.automl"],
    "autogluon": ["autogluon.tabular"],
}


@dataclass(frozen=True)
class Cell:
    dataset: str
    framework: str
    fold: int
    profile: Profile
    seed: int
    optuna_storage: str | None = None
    # the frameworks of the whole grid: what the worker's fork server imports once
    frameworks: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        fold = "holdout" if self.fold == HOLDOUT else f"fold{self.fold}"
        return f"{self.profile.name}/{self.dataset}/{self.framework}/{fold}"

    @property
    def signature(self) -> str:
        """What must match for a stored cell to count as done (change a budget and the
        cell runs again)."""
        text = repr((self.key, asdict(self.profile), self.seed))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class CellResult:
    dataset: str
    framework: str
    fold: int
    profile: str
    budget: str
    seed: int
    metric: str
    status: Status
    score: float
    constant_score: float
    fit_seconds: float
    predict_seconds: float
    n_train: int
    n_test: int
    data_kind: str
    data_sha256: str
    failure: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    prediction_sha256: str = ""
    signature: str = ""

    @property
    def key(self) -> str:
        fold = "holdout" if self.fold == HOLDOUT else f"fold{self.fold}"
        return f"{self.profile}/{self.dataset}/{self.framework}/{fold}"

    def document(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- fold data


def fold_data(task: Task, fold: int, profile: Profile, seed: int) -> tuple[FoldData, np.ndarray]:
    """The fold's training rows (subsampled to the profile's cap) and test rows."""
    if fold == HOLDOUT:
        if task.holdout is None:
            raise ValueError(f"{task.name} has no published holdout split")
        train, test = task.holdout
    else:
        folds = outer_folds(task, profile.folds, seed)
        if not 0 <= fold < len(folds):
            raise ValueError(f"{task.name} has folds 0..{len(folds) - 1}, not {fold}")
        train, test = folds[fold]
    train = subsample(
        train, task.y, profile.max_train_rows, seed, stratify=task.kind != "regression"
    )
    X_train = task.X.iloc[train].reset_index(drop=True)
    X_test = task.X.iloc[test].reset_index(drop=True)
    names = [str(c) for c in task.X.columns]
    if task.text_column is not None:
        from automl_bench.features import fit_tfidf

        X_train, X_test, names = fit_tfidf(X_train[task.text_column], X_test[task.text_column])
    n_classes = int(task.y.max()) + 1 if task.kind == "multiclass" else 2
    data = FoldData(
        kind=task.kind,
        X_train=X_train,
        y_train=task.y[train],
        X_test=X_test,
        n_classes=n_classes if task.kind != "regression" else 0,
        seed=seed,
        feature_names=names,
        groups_train=None if task.groups is None else task.groups[train],
        times_train=None if task.times is None else task.times[train],
        domain_features=task.domain_features,
    )
    return data, task.y[test]


def budget_for(cell: Cell, scratch: Path) -> Budget:
    p = cell.profile
    return Budget(
        seconds=p.time_budget,
        iterations=p.iterations,
        cores=p.cores,
        memory_gb=p.memory_gb,
        scratch=scratch,
        optuna_storage=cell.optuna_storage,
        study_prefix=cell.key.replace("/", "-"),
    )


def execute(framework: str, data: FoldData, budget: Budget) -> dict[str, Any]:
    """Fit and predict in this process (what the child does)."""
    from automl_bench.frameworks import quiet

    model = make(framework)
    started = time.perf_counter()
    with quiet():
        info = model.fit(data, budget)
    fitted = time.perf_counter()
    with quiet():
        prediction = model.predict(data.X_test)
    return {
        "prediction": np.asarray(prediction, dtype=float),
        "info": info,
        "fit_seconds": fitted - started,
        "predict_seconds": time.perf_counter() - fitted,
    }


# --------------------------------------------------------------------------- isolation


def _watch_parent(parent_pid: int) -> None:
    """End this job when the process that launched it is gone (a killed Dask worker):
    an orphaned job would keep a core busy for a result nobody collects."""
    while True:
        time.sleep(1.0)
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            os._exit(3)


def _child(conn: Any, parent_pid: int, framework: str, data: FoldData, budget: Budget) -> None:
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    # libraries that write files where they stand (CatBoost under FLAML) write into the
    # job's scratch folder, never into the repository
    os.chdir(budget.scratch)
    try:
        conn.send(("ok", execute(framework, data, budget)))
    except MemoryError:
        conn.send(("memory", "MemoryError raised inside the framework"))
    except BaseException as exc:  # any failure of a framework is a result, not a crash here
        where = traceback.extract_tb(exc.__traceback__)[-1]
        message = (
            f"{type(exc).__name__}: {str(exc)[:300]} ({Path(where.filename).name}:{where.lineno})"
        )
        conn.send(("crash", message))
    finally:
        conn.close()


_CONTEXT: Any = None


def fork_server(modules: Sequence[str]) -> Any:
    """A forkserver context whose server has imported ``modules`` (once per process)."""
    global _CONTEXT
    if _CONTEXT is None:
        if multiprocessing.current_process().daemon:
            raise RuntimeError(
                "this Dask worker is a daemon process and cannot start jobs; start workers "
                "with DASK_DISTRIBUTED__WORKER__DAEMON=False"
            )
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(dict.fromkeys(modules)))
        # start the server now, so its imports never count against a job's time limit
        warm = context.Process(target=_noop)
        warm.start()
        warm.join()
        _CONTEXT = context
    return _CONTEXT


def _noop() -> None:
    return None


def _tree_rss(pid: int) -> int:
    import psutil

    try:
        process = psutil.Process(pid)
        processes = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += p.memory_info().rss
    return total


def run_isolated(
    framework: str, data: FoldData, budget: Budget, *, hard_limit: float, preload: Sequence[str]
) -> tuple[str, Any, float]:
    """(status, payload, peak GiB): status ``ok`` with the child's result, else the
    failure kind (``timeout``, ``memory``, ``crash``) and its message."""
    context = fork_server(preload)
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_child, args=(sender, os.getpid(), framework, data, budget), daemon=True
    )
    started = time.monotonic()
    process.start()
    sender.close()
    limit_bytes = budget.memory_gb * 2**30
    peak = 0
    outcome: tuple[str, Any] | None = None
    try:
        while outcome is None:
            if receiver.poll(0.25):
                try:
                    outcome = receiver.recv()
                except EOFError:
                    break
                break
            rss = _tree_rss(process.pid)
            peak = max(peak, rss)
            if rss > limit_bytes:
                outcome = (
                    "memory",
                    f"{rss / 2**30:.1f} GiB in use, limit {budget.memory_gb:g} GiB",
                )
            elif time.monotonic() - started > hard_limit:
                outcome = (
                    "timeout",
                    f"still running after {hard_limit:.0f} s "
                    f"(budget {budget.seconds or budget.iterations})",
                )
            elif not process.is_alive() and not receiver.poll(0.25):
                break
    finally:
        if process.is_alive() and (outcome is None or outcome[0] != "ok"):
            process.kill()
        process.join(timeout=30)
        receiver.close()
    if outcome is None:
        code = process.exitcode
        reason = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        outcome = ("crash", f"the job died ({reason})")
    return outcome[0], outcome[1], peak / 2**30


# --------------------------------------------------------------------------- a cell


def run_cell(cell: Cell, task: Task, *, isolate: bool = True) -> CellResult:
    """Fit, predict and score one cell; a failure is scored as the constant predictor."""
    data, y_test = fold_data(task, cell.fold, cell.profile, cell.seed)
    metric = METRICS[task.kind]
    with tempfile.TemporaryDirectory(prefix="automl-bench-") as scratch:
        budget = budget_for(cell, Path(scratch))
        constant = execute("constant", data, budget)
        if isolate:
            names = ("constant", *(cell.frameworks or (cell.framework,)))
            modules = [m for f in names for m in PRELOAD.get(f, [])]
            status, payload, peak = run_isolated(
                cell.framework, data, budget, hard_limit=cell.profile.hard_limit, preload=modules
            )
        else:
            status, payload, peak = "ok", execute(cell.framework, data, budget), 0.0
    constant_score = score(metric, y_test, constant["prediction"])
    failure = None
    if status == "ok":
        prediction = payload["prediction"]
        if not np.all(np.isfinite(prediction)):
            status, failure = "crash", "non-finite predictions"
        else:
            value = score(metric, y_test, prediction)
    else:
        failure = f"{status}: {payload}"
    if failure is not None:
        prediction, value = constant["prediction"], constant_score
        payload = {"info": {}, "fit_seconds": 0.0, "predict_seconds": 0.0}
    info = dict(payload["info"])
    if peak:
        info["peak_memory_gib"] = round(peak, 2)
    digest = hashlib.sha256(np.round(prediction, 6).astype(np.float64).tobytes()).hexdigest()
    return CellResult(
        dataset=cell.dataset,
        framework=cell.framework,
        fold=cell.fold,
        profile=cell.profile.name,
        budget=cell.profile.budget_label,
        seed=cell.seed,
        metric=metric,
        status="ok" if failure is None else "failed",
        score=value,
        constant_score=constant_score,
        fit_seconds=float(payload["fit_seconds"]),
        predict_seconds=float(payload["predict_seconds"]),
        n_train=len(data.y_train),
        n_test=len(y_test),
        data_kind=task.source.kind,
        data_sha256=",".join(f"{k}:{v}" for k, v in sorted(task.source.sha256.items())),
        failure=failure,
        info=info,
        prediction_sha256=digest,
        signature=cell.signature,
    )
