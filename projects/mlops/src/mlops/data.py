"""The only module of the mlops project that reads the dataset.

``load`` returns the UCI credit-default table (real, from ``TENFOLD_DATA_DIR`` or the
cache) or its synthetic twin, announced, together with where it came from.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from mlops.config import BILL_AMOUNTS, PAY_AMOUNTS, PAY_STATUS, TARGET, MlopsConfig
from tenfold import data as tfdata


def load(cfg: MlopsConfig) -> tuple[pd.DataFrame, tfdata.DataSource]:
    return tfdata.load_table(
        cfg.dataset,
        cfg.data_file,
        synthetic=lambda: make_synthetic(cfg.synthetic_rows, cfg.seed),
    )


def scoring_chunks(path: Path, cfg: MlopsConfig) -> Iterator[tfdata.Chunk]:
    """Applicants to score (``predict --input``): the UCI columns, target optional (read
    in chunks, each checked against the manifest's schema)."""
    spec = tfdata.Manifest.load()[cfg.dataset].file(cfg.data_file)
    header = path.open(encoding="utf-8").readline() if path.is_file() else ""
    columns = [c for c in spec.columns if c.name != cfg.target or c.name in header]
    return tfdata.iter_csv_checked(path, columns)


def make_synthetic(n_rows: int, seed: int) -> pd.DataFrame:
    """A twin with the real file's columns, dtypes and main relationships.

    A latent risk per client drives the repayment statuses (months of delay, persistent
    from month to month), how much of the limit is used and how little is repaid; the
    default next month is drawn from a logistic model of the risk and the latest delay
    (about 22 % defaults, as in the real file). Young clients and small limits are
    riskier. The numbers are illustrative, not comparable with published results.
    """
    rng = np.random.default_rng(seed)
    n = n_rows
    age = np.clip(np.round(rng.gamma(9.0, 4.0, n)), 21, 79).astype(np.int64)
    education = rng.choice(
        [1, 2, 3, 4, 5, 6, 0], n, p=[0.35, 0.47, 0.16, 0.005, 0.01, 0.003, 0.002]
    )
    limit = np.clip(np.round(rng.lognormal(11.8, 0.8, n) / 10_000) * 10_000, 10_000, 1_000_000)
    risk = rng.normal(0.0, 1.0, n) - 0.25 * np.log(limit / 150_000) - 0.01 * (age - 35)
    status = np.empty((n, 6), dtype=np.int64)
    previous = np.zeros(n)
    for k in range(5, -1, -1):  # April first, September last: delays persist
        level = 0.6 * previous + 0.8 * risk + rng.normal(0.0, 0.7, n)
        status[:, k] = np.clip(np.floor(level), -2, 8)
        previous = level
    utilisation = np.clip(0.3 + 0.15 * risk[:, None] + rng.normal(0, 0.25, (n, 6)), -0.05, 1.3)
    bills = np.round(utilisation * limit[:, None])
    repaid = np.clip(0.15 - 0.08 * risk[:, None] + rng.normal(0, 0.1, (n, 6)), 0.0, 1.0)
    payments = np.round(np.abs(bills) * repaid)
    logit = -1.75 + 0.9 * risk + 0.45 * np.clip(status[:, 0], 0, None)
    default = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    frame = pd.DataFrame(
        {
            "ID": np.arange(1, n + 1, dtype=np.int64),
            "LIMIT_BAL": limit.astype(float),
            "SEX": rng.choice([1, 2], n, p=[0.4, 0.6]).astype(np.int64),
            "EDUCATION": education.astype(np.int64),
            "MARRIAGE": rng.choice([1, 2, 3, 0], n, p=[0.45, 0.53, 0.011, 0.009]).astype(np.int64),
            "AGE": age,
        }
    )
    for k, name in enumerate(PAY_STATUS):
        frame[name] = status[:, k]
    for k, name in enumerate(BILL_AMOUNTS):
        frame[name] = bills[:, k].astype(float)
    for k, name in enumerate(PAY_AMOUNTS):
        frame[name] = payments[:, k].astype(float)
    frame[TARGET] = default
    return frame
