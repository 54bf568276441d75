"""The only module of the fraud project that reads files.

- ``load(cfg)`` gives the transactions of the configured dataset and where they came
  from: the simulator (the default; synthetic by design, announced as such), or the
  ULB ``creditcard.csv`` through ``tenfold.data`` (data dir → cache → download with
  sha256 check → a ULB-shaped synthetic twin, announced in one line).
- ``read_scoring_file`` reads transactions to score (``predict --input``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraud.config import FraudConfig
from fraud.features import HISTORY_COLUMNS, ULB_COMPONENTS
from fraud.simulator import simulate
from tenfold import data as tfdata

log = logging.getLogger("fraud.data")

SIMULATED_DATASET = "fraud-simulator"


def load(cfg: FraudConfig, **ulb_options: Any) -> tuple[pd.DataFrame, tfdata.DataSource]:
    """Transactions and their source. ``ulb_options`` go to :func:`load_ulb` (download
    URLs, manifest, data and cache folders) and only matter for the ULB file."""
    if cfg.dataset == "simulated":
        return load_simulated(cfg)
    return load_ulb(cfg, **ulb_options)


def load_simulated(cfg: FraudConfig) -> tuple[pd.DataFrame, tfdata.DataSource]:
    frame = simulate(cfg.simulation, cfg.seed)
    digest = frame_sha256(frame)
    message = (
        f"data: transaction SIMULATOR (Fraud-Detection-Handbook design, seed {cfg.seed}): "
        f"{len(frame):,} synthetic transactions, {frame['tx_fraud'].mean():.2%} fraud; "
        "the real ULB file is `--dataset ulb`"
    )
    log.info(message)
    source = tfdata.DataSource(
        dataset=SIMULATED_DATASET,
        kind="synthetic",
        origin="synthetic",
        sha256={"transactions": digest},
        steps=(message,),
    )
    return frame, source


def frame_sha256(frame: pd.DataFrame) -> str:
    """A digest of a frame's values (recorded like a file's sha256: same seed, same bytes)."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def ulb_manifest(
    cfg: FraudConfig, *, urls: Sequence[str] | None, manifest: tfdata.Manifest | None
) -> tfdata.Manifest:
    """The manifest, with the ULB file's URLs replaced when ``urls`` is given (in memory:
    the file on disk is never edited)."""
    manifest = manifest or tfdata.Manifest.load()
    if urls is None:
        return manifest
    spec = manifest[cfg.ulb_dataset]
    file = dataclasses.replace(spec.file(cfg.ulb_file), urls=tuple(urls))
    dataset = dataclasses.replace(spec, files={**spec.files, cfg.ulb_file: file})
    return dataclasses.replace(manifest, datasets={**manifest.datasets, cfg.ulb_dataset: dataset})


def load_ulb(
    cfg: FraudConfig,
    *,
    urls: Sequence[str] | None = None,
    manifest: tfdata.Manifest | None = None,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    download: bool | None = None,
) -> tuple[pd.DataFrame, tfdata.DataSource]:
    """The ULB file through ``tenfold.data`` (data dir → cache → download → twin).
    ``urls`` replaces the manifest's download URLs (a local mirror, a test server)."""
    given = {"data_dir": data_dir, "cache_dir": cache_dir, "download": download}
    options: dict[str, object] = {k: v for k, v in given.items() if v is not None}
    options["manifest"] = ulb_manifest(cfg, urls=urls, manifest=manifest)
    frame, source = tfdata.load_table(
        cfg.ulb_dataset,
        cfg.ulb_file,
        synthetic=lambda: make_ulb_twin(cfg.ulb_twin_rows, cfg.seed),
        **options,
    )
    return frame.sort_values("Time", kind="stable").reset_index(drop=True), source


def make_ulb_twin(n_rows: int, seed: int) -> pd.DataFrame:
    """A small frame in the ULB file's schema, for running the ULB path offline.

    Two days of ``Time`` with fewer transactions at night, 28 standardised components
    with decreasing variance (as principal components have), log-normal amounts and
    about 0.2 % fraud, whose components are shifted (strongly on V14, V12, V10, V17, as
    in the real file). Not the real data: numbers from it mean nothing.
    """
    rng = np.random.default_rng(seed)
    hours = np.arange(48)
    weight = np.where(hours % 24 < 7, 0.25, 1.0)
    hour = rng.choice(hours, n_rows, p=weight / weight.sum())
    time = np.sort(np.floor(hour * 3600 + rng.uniform(0, 3600, n_rows)))
    fraud = rng.random(n_rows) < 0.002
    scale = np.linspace(2.0, 0.3, len(ULB_COMPONENTS))
    components = rng.normal(0.0, 1.0, (n_rows, len(ULB_COMPONENTS))) * scale
    shift = np.zeros(len(ULB_COMPONENTS))
    for name, delta in (("V14", -6.0), ("V12", -5.0), ("V10", -4.0), ("V17", -5.0), ("V4", 3.0)):
        shift[ULB_COMPONENTS.index(name)] = delta
    components[fraud] += shift * rng.uniform(0.3, 1.2, (int(fraud.sum()), 1))
    amount = np.round(np.exp(rng.normal(3.0, 1.4, n_rows)), 2)
    frame = pd.DataFrame(components, columns=list(ULB_COMPONENTS))
    frame.insert(0, "Time", time)
    frame["Amount"] = amount
    frame["Class"] = fraud.astype(np.int64)
    return frame


# --------------------------------------------------------------------------- scoring files

SCORING_COLUMNS = (
    tfdata.ColumnSpec("tx_datetime", "datetime"),
    tfdata.ColumnSpec("tx_amount", "float"),
    *(tfdata.ColumnSpec(c, "float") for c in HISTORY_COLUMNS),
)


def read_scoring_file(
    path: Path, dataset: str = "simulated", cfg: FraudConfig | None = None
) -> pd.DataFrame:
    """Transactions to score: the API's fields as columns (``transaction_id`` optional),
    or for a ULB model the ULB file's columns (``Class`` optional)."""
    return tfdata.read_csv_checked(path, scoring_columns(dataset, cfg))


def scoring_columns(
    dataset: str = "simulated", cfg: FraudConfig | None = None
) -> list[tfdata.ColumnSpec]:
    if dataset == "simulated":
        return list(SCORING_COLUMNS)
    cfg = cfg or FraudConfig()
    spec = tfdata.Manifest.load()[cfg.ulb_dataset].file(cfg.ulb_file)
    return [c for c in spec.columns if c.name != "Class"]


def scoring_chunks(
    path: Path, dataset: str = "simulated", cfg: FraudConfig | None = None
) -> Iterator[tfdata.Chunk]:
    """:func:`read_scoring_file` in chunks of rows, for files of any size."""
    return tfdata.iter_csv_checked(path, scoring_columns(dataset, cfg))
