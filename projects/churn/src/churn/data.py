"""The only module of the churn project that reads files.

``load`` returns the Telco frame (real, or its synthetic twin when the real file cannot
be found) or a user's own churn CSV, together with where it came from.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from churn.config import ChurnConfig
from tenfold import data as tfdata

SERVICES = (
    "OnlineSecurity",
    "OnlineBackup",
    "DeviceProtection",
    "TechSupport",
    "StreamingTV",
    "StreamingMovies",
)
PAYMENT_METHODS = (
    "Electronic check",
    "Mailed check",
    "Bank transfer (automatic)",
    "Credit card (automatic)",
)


def load(cfg: ChurnConfig) -> tuple[pd.DataFrame, tfdata.DataSource]:
    if cfg.data_path is not None:
        return tfdata.read_user_csv(cfg.data_path)
    return tfdata.load_table(
        cfg.dataset,
        cfg.data_file,
        synthetic=lambda: make_synthetic(cfg.synthetic_rows, cfg.seed),
    )


def telco_columns(cfg: ChurnConfig, *, with_target: bool) -> list[tfdata.ColumnSpec]:
    spec = tfdata.Manifest.load()[cfg.dataset].file(cfg.data_file)
    return [c for c in spec.columns if with_target or c.name != cfg.target]


def read_scoring_file(path: Path, cfg: ChurnConfig) -> pd.DataFrame:
    """Customers to score (``predict --input``): Telco columns, target optional."""
    if cfg.uses_telco_schema:
        return tfdata.read_csv_checked(path, telco_columns(cfg, with_target=False))
    frame, _ = tfdata.read_user_csv(path)
    return frame


def scoring_chunks(path: Path, cfg: ChurnConfig) -> Iterator[tfdata.Chunk]:
    """:func:`read_scoring_file` in chunks of rows, for files of any size."""
    if cfg.uses_telco_schema:
        return tfdata.iter_csv_checked(path, telco_columns(cfg, with_target=False))
    # a custom file's types are inferred from all of it: one chunk
    frame, _ = tfdata.read_user_csv(path)
    size = path.stat().st_size
    return iter([tfdata.Chunk(frame, 1, size, size)])


def make_synthetic(n_rows: int, seed: int) -> pd.DataFrame:
    """A Telco-shaped twin with the real file's columns, dtypes and main relationships.

    Contract length drives tenure and churn; fibre costs more and churns more; electronic
    checks, no tech support and senior customers churn more; TotalCharges is about
    tenure × monthly charge, and blank (missing) exactly when tenure is 0, as in the
    real file. Churn is drawn from a logistic model of these, so a classifier can learn
    something real, but the numbers are not comparable with published results.
    """
    rng = np.random.default_rng(seed)
    n = n_rows
    contract = rng.choice(["Month-to-month", "One year", "Two year"], n, p=[0.55, 0.21, 0.24])
    mean_tenure = np.select([contract == "Month-to-month", contract == "One year"], [18, 42], 57)
    tenure = np.clip(np.round(rng.gamma(2.0, mean_tenure / 2.0)), 0, 72).astype(np.int64)
    tenure[rng.random(n) < 0.0016] = 0
    internet = rng.choice(["DSL", "Fiber optic", "No"], n, p=[0.34, 0.44, 0.22])
    has_net = internet != "No"
    phone = np.where(rng.random(n) < 0.9, "Yes", "No")
    multiple = np.where(
        phone == "No", "No phone service", np.where(rng.random(n) < 0.47, "Yes", "No")
    )
    frame = {
        "customerID": [f"{rng.integers(1000, 9999)}-SYNTH{i:05d}" for i in range(n)],
        "gender": rng.choice(["Female", "Male"], n),
        "SeniorCitizen": (rng.random(n) < 0.16).astype(np.int64),
        "Partner": np.where(rng.random(n) < 0.48, "Yes", "No"),
        "Dependents": np.where(rng.random(n) < 0.30, "Yes", "No"),
        "tenure": tenure,
        "PhoneService": phone,
        "MultipleLines": multiple,
        "InternetService": internet,
    }
    service_count = np.zeros(n)
    for name in SERVICES:
        taken = has_net & (rng.random(n) < 0.42)
        frame[name] = np.where(~has_net, "No internet service", np.where(taken, "Yes", "No"))
        service_count += taken
    frame["Contract"] = contract
    frame["PaperlessBilling"] = np.where(rng.random(n) < 0.59, "Yes", "No")
    frame["PaymentMethod"] = rng.choice(PAYMENT_METHODS, n, p=[0.34, 0.23, 0.22, 0.21])
    base = np.select([internet == "Fiber optic", internet == "DSL"], [70.0, 45.0], 20.0)
    monthly = base + 5.0 * service_count + 10.0 * (multiple == "Yes") + rng.normal(0, 4, n)
    monthly = np.round(np.clip(monthly, 18.25, 118.75), 2)
    total = np.round(monthly * tenure * rng.normal(1.0, 0.05, n), 2)
    frame["MonthlyCharges"] = monthly
    frame["TotalCharges"] = np.where(tenure == 0, np.nan, np.maximum(total, monthly))

    logit = (
        -1.2
        + 1.3 * (contract == "Month-to-month")
        - 1.2 * (contract == "Two year")
        - 0.035 * tenure
        + 0.9 * (internet == "Fiber optic")
        - 0.8 * (internet == "No")
        + 0.6 * (frame["PaymentMethod"] == "Electronic check")
        - 0.4 * (frame["TechSupport"] == "Yes")
        - 0.35 * (frame["OnlineSecurity"] == "Yes")
        + 0.3 * np.asarray(frame["SeniorCitizen"], dtype=float)
        + 0.3 * (frame["PaperlessBilling"] == "Yes")
        - 0.2 * (frame["Dependents"] == "Yes")
    )
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame["Churn"] = np.where(churned, "Yes", "No")
    out = pd.DataFrame(frame)
    for col in out.columns:
        if out[col].dtype.kind == "U":
            out[col] = out[col].astype(object)
    return out
