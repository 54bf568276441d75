"""The only module of the benchmark that reads files: eight datasets as one kind of task.

Four datasets come through the data layers of the projects that own them (churn's Telco,
housing's Ames, nlp's BBC News, fraud's transaction simulator), two through
``tenfold.data`` and the manifest (UCI credit default, NASA C-MAPSS FD001), two are
bundled with scikit-learn (breast cancer, digits). Each is checked by the same data
layer as the projects and has a synthetic stand-in when its file cannot be found
(announced by the caller). A user adds a dataset with one TOML entry or ``--csv``.

A :class:`Task` also fixes how its outer folds are drawn (stratified, plain, grouped by
engine, or time-ordered), so every framework sees the same folds.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

import tenfold.data as tfdata
from automl_bench.config import BenchConfig, TaskKind
from tenfold.errors import DataError

FoldKind = Literal["stratified", "kfold", "group", "time"]


@dataclass(frozen=True)
class Task:
    """One benchmark dataset: features, target, provenance and its fold rule.

    ``text_column``: the one text column, turned into TF-IDF per outer fold (fitted on
    the fold's training rows). ``domain_features``: the ``"module:Class"`` of a stateless
    feature step the manual pipeline adds (the project's own feature engineering).
    """

    name: str
    kind: TaskKind
    X: pd.DataFrame
    y: np.ndarray
    source: tfdata.DataSource
    fold_kind: FoldKind
    description: str
    classes: tuple[str, ...] = ()
    groups: np.ndarray | None = None
    times: np.ndarray | None = None
    # time-ordered folds: days left out between training and each test window
    gap: float = 0.0
    text_column: str | None = None
    domain_features: str | None = None
    # a published split to compare with (churn's own test split for Telco): positions
    holdout: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def n_rows(self) -> int:
        return len(self.y)


def _categorical(frame: pd.DataFrame) -> list[str]:
    return [
        c for c in frame.columns if frame[c].dtype == object or frame[c].dtype.name == "category"
    ]


def describe(task: Task) -> dict[str, Any]:
    """The traits the report's dataset table shows."""
    X = task.X
    text = [task.text_column] if task.text_column else []
    categorical = [c for c in _categorical(X) if c not in text]
    cardinality = [int(X[c].nunique()) for c in categorical]
    row: dict[str, Any] = {
        "dataset": task.name,
        "task": task.kind,
        "rows": task.n_rows,
        "features": X.shape[1],
        "categorical_share": len(categorical) / max(1, X.shape[1]),
        "max_cardinality": max(cardinality, default=0),
        "missing_share": float(X.isna().to_numpy().mean()),
        "folds": task.fold_kind,
        "data": task.source.kind,
    }
    if task.kind == "binary":
        row["balance"] = f"{float(np.mean(task.y)):.1%} positive"
    elif task.kind == "multiclass":
        counts = np.bincount(task.y.astype(int))
        row["balance"] = f"{len(counts)} classes, {counts.min() / counts.max():.2f} min/max"
    else:
        row["balance"] = f"mean {float(np.mean(task.y)):.3g}, sd {float(np.std(task.y)):.3g}"
    if task.text_column:
        row["features"] = "text → TF-IDF"
    return row


# --------------------------------------------------------------------------- datasets


def load_telco(cfg: BenchConfig) -> Task:
    from churn import data as churn_data
    from churn.config import ChurnConfig
    from tenfold.pipelines import binary_target, stratified_holdout

    churn_cfg = dataclasses.replace(ChurnConfig(), seed=cfg.seed)
    frame, source = churn_data.load(churn_cfg)
    y = binary_target(frame[churn_cfg.target])
    # churn's own split (the library function and churn's test share and seed), as positions
    positions = pd.DataFrame({"row": np.arange(len(frame))})
    split = stratified_holdout(positions, y, test_size=churn_cfg.test_size, seed=churn_cfg.seed)
    return Task(
        name="telco",
        kind="binary",
        X=frame.drop(columns=[churn_cfg.target, "customerID"]).reset_index(drop=True),
        y=y,
        source=source,
        fold_kind="stratified",
        description="IBM Telco churn: mostly categorical services and contract columns",
        domain_features="churn.features:ChurnFeatures",
        holdout=(split.X_train["row"].to_numpy(), split.X_test["row"].to_numpy()),
    )


def load_ames(cfg: BenchConfig) -> Task:
    """Kaggle's 1,460 training sales and the other 1,470 De Cock sales together (all 2,930
    sales in Kaggle's column names); the target is log(SalePrice), Kaggle's metric scale."""
    from housing import data as housing_data
    from housing.config import HousingConfig

    housing_cfg = dataclasses.replace(HousingConfig(), seed=cfg.seed)
    loaded = housing_data.load(housing_cfg)
    parts = [loaded.train] + ([loaded.heldout] if loaded.heldout is not None else [])
    frame = pd.concat(parts, ignore_index=True)
    y = np.log(frame[housing_cfg.target].to_numpy(dtype=float))
    return Task(
        name="ames",
        kind="regression",
        X=frame.drop(columns=[housing_cfg.target, "Id"]),
        y=y,
        source=loaded.source,
        fold_kind="kfold",
        description="Ames house prices (log SalePrice): 79 mixed columns, many missing",
        domain_features="housing.features:AmesFeatures",
    )


def load_bbc(cfg: BenchConfig) -> Task:
    from nlp import data as nlp_data
    from nlp.config import NlpConfig

    frame, source = nlp_data.load(dataclasses.replace(NlpConfig(), seed=cfg.seed))
    classes = tuple(sorted(frame["category"].unique()))
    y = frame["category"].map({c: i for i, c in enumerate(classes)}).to_numpy(np.int64)
    return Task(
        name="bbc",
        kind="multiclass",
        X=frame[["text"]].reset_index(drop=True),
        y=y,
        source=source,
        fold_kind="stratified",
        description="BBC News topics as TF-IDF: high-dimensional and sparse",
        classes=classes,
        text_column="text",
    )


FRAUD_BURN_IN_DAYS = 37.0  # 30-day windows behind a 7-day label delay
FRAUD_LABEL_DELAY_DAYS = 7.0


def load_fraud(cfg: BenchConfig) -> Task:
    """fraud's simulator at the handbook's full size, with fraud's history features.

    The customer and terminal ids stay in as high-cardinality categoricals (about 5,000
    and 10,000 levels). Rows of the first 37 days only feed the history windows and are
    left out. Folds are time-ordered with fraud's 7-day label delay as the gap.
    """
    from fraud.config import FraudConfig, Simulation
    from fraud.data import load_simulated
    from fraud.features import history_features

    simulation = dataclasses.replace(
        Simulation().scaled(cfg.fraud_customers), n_days=cfg.fraud_days
    )
    fraud_cfg = dataclasses.replace(FraudConfig(), seed=cfg.seed, simulation=simulation)
    frame, source = load_simulated(fraud_cfg)
    history = history_features(frame, delay_days=int(FRAUD_LABEL_DELAY_DAYS))
    days = frame["tx_time_seconds"].to_numpy() / 86_400
    when = frame["tx_datetime"]
    X = pd.concat(
        [
            frame[["tx_amount"]],
            pd.DataFrame(
                {
                    "tx_hour": when.dt.hour.to_numpy(np.int64),
                    "tx_weekday": when.dt.weekday.to_numpy(np.int64),
                    # categoricals, not text: 1.5 M Python strings would be slow to ship
                    "customer_id": ("c" + frame["customer_id"].astype(str)).astype("category"),
                    "terminal_id": ("t" + frame["terminal_id"].astype(str)).astype("category"),
                },
                index=frame.index,
            ),
            history,
        ],
        axis=1,
    )
    keep = days >= days.min() + FRAUD_BURN_IN_DAYS
    return Task(
        name="fraud",
        kind="binary",
        X=X.loc[keep].reset_index(drop=True),
        y=frame["tx_fraud"].to_numpy(np.int64)[keep],
        source=source,
        fold_kind="time",
        description="card transactions (fraud's simulator, full size): large, rare "
        "positives, high-cardinality ids",
        times=days[keep],
        gap=FRAUD_LABEL_DELAY_DAYS,
    )


CREDIT_FILE = "UCI_Credit_Card.csv"
CREDIT_TARGET = "default.payment.next.month"


def load_credit(cfg: BenchConfig) -> Task:
    frame, source = tfdata.load_table(
        "credit-scoring", CREDIT_FILE, synthetic=lambda: make_credit_twin(30_000, cfg.seed)
    )
    return Task(
        name="credit",
        kind="binary",
        X=frame.drop(columns=["ID", CREDIT_TARGET]),
        y=frame[CREDIT_TARGET].to_numpy(np.int64),
        source=source,
        fold_kind="stratified",
        description="UCI credit default: 30k clients, 6 months of bills and payments",
        domain_features="automl_bench.features:CreditFeatures",
    )


CMAPSS_FILES = ("train_FD001.txt", "test_FD001.txt", "RUL_FD001.txt")
# The usual piecewise-linear target: an engine is healthy (RUL capped) until wear shows.
RUL_CAP = 125


def load_cmapss(cfg: BenchConfig) -> Task:
    """All 200 FD001 engines: the 100 run-to-failure ones and the 100 test engines, whose
    RUL at every cycle follows from the RUL given after their last one. Folds are grouped
    by engine, so no engine is in training and test at once."""
    loaded = tfdata.load(
        "cmapss", list(CMAPSS_FILES), synthetic=lambda: make_cmapss_twin(200, cfg.seed)
    )
    train = loaded.frames["train_FD001.txt"]
    test = loaded.frames["test_FD001.txt"].copy()
    final_rul = loaded.frames["RUL_FD001.txt"]["remaining_cycles"].to_numpy()
    train_last = train.groupby("unit")["cycle"].transform("max")
    train_rul = (train_last - train["cycle"]).to_numpy(dtype=float)
    test_last = test.groupby("unit")["cycle"].transform("max")
    units = test["unit"].to_numpy()
    if units.max() > len(final_rul):
        raise DataError(f"cmapss: {units.max()} test engines but {len(final_rul)} RUL values")
    test_rul = (final_rul[units - 1] + test_last - test["cycle"]).to_numpy(dtype=float)
    test["unit"] = test["unit"] + int(train["unit"].max())
    frame = pd.concat([train, test], ignore_index=True)
    rul = np.minimum(np.concatenate([train_rul, test_rul]), RUL_CAP)
    return Task(
        name="cmapss",
        kind="regression",
        X=frame,
        y=rul,
        source=loaded.source,
        fold_kind="group",
        description=f"turbofan remaining useful life (capped at {RUL_CAP} cycles), "
        "grouped by engine",
        groups=frame["unit"].to_numpy(),
        domain_features="automl_bench.features:EngineHistory",
    )


def load_breast_cancer(cfg: BenchConfig) -> Task:
    from sklearn.datasets import load_breast_cancer as sk_load

    bunch = sk_load(as_frame=True)
    source = tfdata.DataSource(
        dataset="breast-cancer",
        kind="real",
        origin="data_dir",
        steps=("data: scikit-learn's bundled Wisconsin breast cancer data",),
    )
    # malignant is the positive class (sklearn codes it 0)
    return Task(
        name="breast-cancer",
        kind="binary",
        X=bunch.data,
        y=(bunch.target.to_numpy() == 0).astype(np.int64),
        source=source,
        fold_kind="stratified",
        description="Wisconsin breast cancer: small (569 rows), 30 numeric columns",
    )


def load_digits(cfg: BenchConfig) -> Task:
    from sklearn.datasets import load_digits as sk_load

    bunch = sk_load(as_frame=True)
    source = tfdata.DataSource(
        dataset="digits",
        kind="real",
        origin="data_dir",
        steps=("data: scikit-learn's bundled UCI optical digits (8x8 images)",),
    )
    return Task(
        name="digits",
        kind="multiclass",
        X=bunch.data,
        y=bunch.target.to_numpy(np.int64),
        source=source,
        fold_kind="stratified",
        description="handwritten digits: 10 classes, 64 pixel intensities",
        classes=tuple(str(c) for c in range(10)),
    )


BUILTIN: dict[str, Callable[[BenchConfig], Task]] = {
    "telco": load_telco,
    "credit": load_credit,
    "ames": load_ames,
    "cmapss": load_cmapss,
    "bbc": load_bbc,
    "fraud": load_fraud,
    "breast-cancer": load_breast_cancer,
    "digits": load_digits,
}


# --------------------------------------------------------------------------- user datasets


@dataclass(frozen=True)
class UserDataset:
    """One ``[datasets.NAME]`` entry of datasets.toml, or ``run --csv F --target C``."""

    name: str
    csv: Path
    target: str
    task: TaskKind | None = None
    id_column: str | None = None


def user_datasets(path: Path) -> dict[str, UserDataset]:
    if not path.is_file():
        return {}
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{path}: invalid TOML: {exc}") from None
    found = {}
    for name, body in raw.get("datasets", {}).items():
        if name in BUILTIN:
            raise DataError(f"{path}: datasets.{name} shadows a built-in dataset; rename it")
        for key in ("csv", "target"):
            if key not in body:
                raise DataError(f"{path}: datasets.{name} needs {key!r}")
        unknown = set(body) - {"csv", "target", "task", "id"}
        if unknown:
            raise DataError(f"{path}: datasets.{name}: unknown key(s) {sorted(unknown)}")
        if body.get("task") not in (None, "binary", "multiclass", "regression"):
            raise DataError(
                f"{path}: datasets.{name}.task must be binary, multiclass or regression"
            )
        csv = Path(body["csv"]).expanduser()
        found[name] = UserDataset(
            name=name,
            csv=csv if csv.is_absolute() else (path.parent / csv),
            target=body["target"],
            task=body.get("task"),
            id_column=body.get("id"),
        )
    return found


def infer_kind(y: pd.Series) -> TaskKind:
    """Two values: binary; a number with many values: regression; else multiclass."""
    values = y.dropna()
    if values.nunique() == 2:
        return "binary"
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all() and values.nunique() > 20:
        return "regression"
    return "multiclass"


def load_user(spec: UserDataset) -> Task:
    from tenfold.pipelines import binary_target

    frame, source = tfdata.read_user_csv(spec.csv)
    for col, what in ((spec.target, "target"), (spec.id_column, "id")):
        if col is not None and col not in frame.columns:
            raise DataError(
                f"{spec.csv}: {what} column {col!r} not found; columns: {list(frame.columns)[:30]}"
            )
    target = frame[spec.target]
    if target.isna().any():
        row = int(np.flatnonzero(target.isna().to_numpy())[0]) + 1
        raise DataError(f"{spec.csv}: target {spec.target!r} is missing in row {row}")
    kind = spec.task or infer_kind(target)
    classes: tuple[str, ...] = ()
    if kind == "binary":
        y = binary_target(target)
    elif kind == "multiclass":
        labels = target.astype(str)
        classes = tuple(sorted(labels.unique()))
        if len(classes) < 3:
            raise DataError(
                f"{spec.csv}: multiclass target {spec.target!r} has {len(classes)} classes"
            )
        y = labels.map({c: i for i, c in enumerate(classes)}).to_numpy(np.int64)
    else:
        numbers = pd.to_numeric(target, errors="coerce")
        if numbers.isna().any():
            row = int(np.flatnonzero(numbers.isna().to_numpy())[0]) + 1
            raise DataError(
                f"{spec.csv}: regression target {spec.target!r}, row {row}: "
                f"not a number: {target.iloc[row - 1]!r}"
            )
        y = numbers.to_numpy(dtype=float)
    drop = [c for c in (spec.target, spec.id_column) if c]
    X = frame.drop(columns=drop)
    for col in _categorical(X):
        X[col] = X[col].astype(object)
    return Task(
        name=spec.name,
        kind=kind,
        X=X,
        y=y,
        source=dataclasses.replace(source, dataset=spec.name),
        fold_kind="kfold" if kind == "regression" else "stratified",
        description=f"user dataset {spec.csv.name}",
        classes=classes,
    )


def available(cfg: BenchConfig) -> dict[str, UserDataset | None]:
    """Every dataset name the config can run: built-ins (None) and TOML entries."""
    return {**dict.fromkeys(BUILTIN), **user_datasets(cfg.datasets_file)}


def csv_dataset(cfg: BenchConfig) -> dict[str, UserDataset]:
    """``--data F --target C``: the CSV as the grid's one dataset, ``csv-<file stem>``."""
    if cfg.data_path is None or cfg.user_dataset is None or cfg.target is None:
        return {}
    spec = UserDataset(
        name=cfg.user_dataset,
        csv=cfg.data_path,
        target=cfg.target,
        task=cfg.task,
        id_column=cfg.id_column,
    )
    return {spec.name: spec}


def load(cfg: BenchConfig) -> dict[str, Task]:
    """The config's datasets, read and checked (a ``--data`` CSV included), by name:
    what the ``cell`` command runs on. The grid reads each on a worker instead
    (:func:`load_task`), so the client process never holds them all."""
    extra = csv_dataset(cfg)
    return {name: load_task(name, cfg, extra) for name in cfg.datasets}


def load_task(name: str, cfg: BenchConfig, extra: Mapping[str, UserDataset] | None = None) -> Task:
    if name in BUILTIN:
        return BUILTIN[name](cfg)
    users = {**user_datasets(cfg.datasets_file), **(extra or {})}
    if name not in users:
        raise DataError(
            f"unknown dataset {name!r}; built-in: {sorted(BUILTIN)}, "
            f"from {cfg.datasets_file}: {sorted(users)}"
        )
    return load_user(users[name])


# --------------------------------------------------------------------------- folds


def outer_folds(task: Task, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The outer folds of a task: the same for every framework (a function of the task,
    the fold count and the seed only)."""
    from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold

    index = np.arange(task.n_rows)
    if task.fold_kind == "stratified":
        splitter: Any = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
        return [(tr, te) for tr, te in splitter.split(index, task.y)]
    if task.fold_kind == "kfold":
        splitter = KFold(n_folds, shuffle=True, random_state=seed)
        return [(tr, te) for tr, te in splitter.split(index)]
    if task.fold_kind == "group":
        assert task.groups is not None
        splitter = GroupKFold(n_folds, shuffle=True, random_state=seed)
        return [(tr, te) for tr, te in splitter.split(index, groups=task.groups)]
    from tenfold.splits import TimeSplitter

    assert task.times is not None
    span = float(task.times.max() - task.times.min())
    # the last half of the timeline is cut into n test windows, each trained on all before it
    horizon = span / 2 / n_folds
    splitter = TimeSplitter(horizon, n_splits=n_folds, gap=task.gap)
    return [(tr, te) for tr, te in splitter.split(task.times)]


def subsample(
    train: np.ndarray, y: np.ndarray, limit: int | None, seed: int, *, stratify: bool
) -> np.ndarray:
    """At most ``limit`` of the training rows (seeded; class shares kept), in order."""
    if limit is None or len(train) <= limit:
        return train
    from sklearn.model_selection import train_test_split

    kept, _ = train_test_split(
        train, train_size=limit, random_state=seed, stratify=y[train] if stratify else None
    )
    return np.sort(kept)


# --------------------------------------------------------------------------- synthetic twins


def make_credit_twin(n_rows: int, seed: int) -> pd.DataFrame:
    """The UCI credit file's columns and dtypes; default driven by recent payment delays
    and credit use (about 22 % positive). Illustrative only."""
    rng = np.random.default_rng(seed)
    n = n_rows
    limit = np.round(rng.lognormal(11.8, 0.7, n), -4).clip(10_000, 1_000_000)
    delay = rng.choice([-2, -1, 0, 1, 2, 3], (n, 6), p=[0.15, 0.2, 0.45, 0.1, 0.07, 0.03])
    use = rng.beta(2, 3, n)
    bills = np.round(limit[:, None] * use[:, None] * rng.uniform(0.7, 1.1, (n, 6)))
    payments = np.round(bills * rng.beta(1.2, 5, (n, 6)))
    logit = -1.9 + 0.75 * delay[:, 0] + 0.25 * delay[:, 1] + 1.2 * use - 0.3 * (limit > 2e5)
    frame = {
        "ID": np.arange(1, n + 1),
        "LIMIT_BAL": limit,
        "SEX": rng.choice([1, 2], n, p=[0.4, 0.6]),
        "EDUCATION": rng.choice([1, 2, 3, 4], n, p=[0.35, 0.47, 0.16, 0.02]),
        "MARRIAGE": rng.choice([1, 2, 3], n, p=[0.45, 0.53, 0.02]),
        "AGE": rng.integers(21, 75, n),
    }
    for i, month in enumerate((0, 2, 3, 4, 5, 6)):
        frame[f"PAY_{month}"] = delay[:, i]
    for i in range(6):
        frame[f"BILL_AMT{i + 1}"] = bills[:, i]
    for i in range(6):
        frame[f"PAY_AMT{i + 1}"] = payments[:, i]
    frame[CREDIT_TARGET] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return pd.DataFrame(frame)


def make_cmapss_twin(n_engines: int, seed: int) -> dict[str, pd.DataFrame]:
    """C-MAPSS-shaped files: engines whose sensors drift quadratically towards failure
    after a healthy period, with noise; half run to failure (train), half are cut short
    (test, with the RUL after their last cycle). Illustrative only."""
    rng = np.random.default_rng(seed)
    sensors = [f"sensor_{i}" for i in range(1, 22)]
    base = rng.uniform(1, 100, len(sensors))
    drift = rng.normal(0, 0.05, len(sensors)) * base
    frames, ruls = [], []
    half = n_engines // 2
    for part in ("train", "test"):
        rows = []
        for unit in range(1, half + 1):
            life = int(rng.integers(130, 360))
            shown = life if part == "train" else int(rng.integers(30, life - 5))
            cycle = np.arange(1, shown + 1)
            wear = np.clip((cycle / life - 0.4) / 0.6, 0, None) ** 2
            values = (
                base + wear[:, None] * drift + rng.normal(0, 0.02, (shown, len(sensors))) * base
            )
            block = pd.DataFrame(values, columns=sensors)
            block.insert(0, "setting_3", 100.0)
            block.insert(0, "setting_2", rng.normal(0, 3e-4, shown))
            block.insert(0, "setting_1", rng.normal(0, 2e-3, shown))
            block.insert(0, "cycle", cycle)
            block.insert(0, "unit", unit)
            rows.append(block)
            if part == "test":
                ruls.append(life - shown)
        frames.append(pd.concat(rows, ignore_index=True))
    return {
        "train_FD001.txt": frames[0],
        "test_FD001.txt": frames[1],
        "RUL_FD001.txt": pd.DataFrame({"remaining_cycles": np.asarray(ruls, dtype=np.int64)}),
    }
