"""The only module of the housing project that reads files.

``load`` returns the Kaggle training sales, the held-out sales (the De Cock sales that
are not in Kaggle's train.csv) and where they came from; or a user's own regression CSV.
The synthetic twin stands in for both Ames files when the real ones cannot be found.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from housing.config import HousingConfig
from tenfold import data as tfdata


@dataclass(frozen=True)
class HousingData:
    """Training rows, held-out rows (None for a custom CSV: split off in training
    instead) and their provenance."""

    train: pd.DataFrame
    heldout: pd.DataFrame | None
    source: tfdata.DataSource


def load(cfg: HousingConfig) -> HousingData:
    if cfg.data_path is not None:
        frame, source = tfdata.read_user_csv(cfg.data_path)
        return HousingData(frame, None, source)
    loaded = tfdata.load(
        cfg.dataset,
        [cfg.train_file, cfg.full_file],
        synthetic=lambda: make_synthetic_files(cfg),
    )
    train = loaded.frames[cfg.train_file]
    full = decock_to_kaggle(loaded.frames[cfg.full_file])
    return HousingData(train, unseen_sales(full, train, cfg), loaded.source)


def kaggle_name(decock_name: str) -> str:
    """De Cock's spaced names → Kaggle's ("Year Remod/Add" → "YearRemodAdd")."""
    return re.sub(r"[ /]", "", decock_name)


def decock_to_kaggle(frame: pd.DataFrame) -> pd.DataFrame:
    """The full data set in Kaggle's column names; De Cock's ``Order`` becomes ``Id``."""
    out = frame.rename(columns={c: kaggle_name(c) for c in frame.columns})
    return out.rename(columns={"Order": "Id"}).drop(columns=["PID"], errors="ignore")


def unseen_sales(full: pd.DataFrame, train: pd.DataFrame, cfg: HousingConfig) -> pd.DataFrame:
    """The sales of ``full`` whose feature values match no row of ``train``.

    Kaggle's files carry no De Cock id, so a sale is recognised by all of its values,
    written the same way on both sides (trimmed text, numbers as floats, blank or "NA"
    alike). Every one of Kaggle's 1460 training sales is found this way; what is left is
    about 1470 sales (Kaggle's test set and a few others) no model here has seen.
    """
    features = [c for c in train.columns if c not in (cfg.id_column, cfg.target)]
    seen = set(_row_keys(train[features]))
    keep = ~pd.Series(_row_keys(full[features]), index=full.index).isin(seen)
    return full.loc[keep, train.columns].reset_index(drop=True)


def _row_keys(frame: pd.DataFrame) -> list[str]:
    normalised = frame.apply(_normalise_column)
    return normalised.agg("|".join, axis=1).tolist()


def _normalise_column(values: pd.Series) -> pd.Series:
    text = values.astype(str).str.strip()
    unknown = values.isna() | text.isin(["", "NA", "nan"])
    numbers = pd.to_numeric(text.where(~unknown), errors="coerce")
    as_number = numbers.map(lambda v: repr(float(v)), na_action="ignore")
    return as_number.where(numbers.notna(), text).where(~unknown, "NA")


def scoring_columns(cfg: HousingConfig) -> list[tfdata.ColumnSpec]:
    """The Ames feature columns for scoring files: every value may be missing."""
    spec = tfdata.Manifest.load()[cfg.dataset].file(cfg.train_file)
    return [
        dataclasses.replace(c, nullable=True)
        for c in spec.columns
        if c.name not in (cfg.target, cfg.id_column)
    ]


def read_scoring_file(path: Path, cfg: HousingConfig) -> pd.DataFrame:
    """Houses to price (``predict --input``): Ames columns, any value may be blank/NA,
    SalePrice optional (Kaggle's test.csv works as it is)."""
    if cfg.uses_ames_schema:
        return tfdata.read_csv_checked(path, scoring_columns(cfg))
    frame, _ = tfdata.read_user_csv(path)
    return frame


def scoring_chunks(path: Path, cfg: HousingConfig) -> Iterator[tfdata.Chunk]:
    """:func:`read_scoring_file` in chunks of rows, for files of any size."""
    if cfg.uses_ames_schema:
        return tfdata.iter_csv_checked(path, scoring_columns(cfg))
    # a custom file's types are inferred from all of it: one chunk
    frame, _ = tfdata.read_user_csv(path)
    size = path.stat().st_size
    return iter([tfdata.Chunk(frame, 1, size, size)])


# --------------------------------------------------------------------------- synthetic twin

NEIGHBOURHOODS = {
    # name: (share of sales, price level relative to the median neighbourhood)
    "NAmes": (0.15, 0.97),
    "CollgCr": (0.10, 1.12),
    "OldTown": (0.08, 0.82),
    "Edwards": (0.07, 0.84),
    "Somerst": (0.06, 1.20),
    "Gilbert": (0.05, 1.08),
    "NridgHt": (0.05, 1.45),
    "Sawyer": (0.05, 0.92),
    "NWAmes": (0.05, 1.06),
    "SawyerW": (0.04, 1.05),
    "BrkSide": (0.04, 0.86),
    "Crawfor": (0.04, 1.15),
    "Mitchel": (0.04, 1.00),
    "NoRidge": (0.03, 1.40),
    "Timber": (0.03, 1.22),
    "IDOTRR": (0.03, 0.75),
    "ClearCr": (0.03, 1.15),
    "StoneBr": (0.02, 1.40),
    "SWISU": (0.02, 0.90),
    "MeadowV": (0.02, 0.70),
}


def _choice(rng: np.random.Generator, levels: dict[str, float], n: int) -> np.ndarray:
    p = np.asarray(list(levels.values()), dtype=float)
    return rng.choice(np.asarray(list(levels), dtype=object), n, p=p / p.sum())


def make_synthetic(n_rows: int, seed: int) -> pd.DataFrame:
    """An Ames-shaped twin: Kaggle's 81 columns and dtypes, "NA" where a house has no
    basement / garage / fireplace / pool / alley / fence, missing LotFrontage,
    MasVnrArea and GarageYrBlt as in the real file, and a price driven by neighbourhood,
    quality, size, age, garage and basement (log-linear, with noise). A model can learn
    something real from it; the numbers are not comparable with published results.
    """
    rng = np.random.default_rng(seed)
    n = n_rows
    names = list(NEIGHBOURHOODS)
    shares = np.asarray([v[0] for v in NEIGHBOURHOODS.values()])
    hood = rng.choice(np.asarray(names, dtype=object), n, p=shares / shares.sum())
    level = np.asarray([NEIGHBOURHOODS[h][1] for h in hood])
    quality = np.clip(np.round(rng.normal(5.0 + 3.0 * (level - 1.0), 1.2)), 1, 10).astype(int)
    built = np.clip(
        np.round(rng.normal(1972 + 25 * (level - 1.0) + 4 * (quality - 6), 22)), 1880, 2009
    ).astype(int)
    sold = rng.integers(2006, 2011, n)
    built = np.minimum(built, sold)
    remod = np.where(rng.random(n) < 0.5, built, rng.integers(built, sold + 1))
    two_storey = rng.random(n) < 0.35
    first = np.clip(np.round(rng.normal(1000 + 60 * (quality - 5), 250)), 400, 2600)
    second = np.where(two_storey, np.clip(np.round(first * rng.normal(0.8, 0.15, n)), 300, 1800), 0)
    living = first + second
    has_basement = rng.random(n) > 0.03
    basement = np.where(
        has_basement, np.clip(np.round(first * rng.normal(0.95, 0.15, n)), 200, 3000), 0
    )
    finished = np.where(has_basement, np.round(basement * rng.uniform(0, 0.8, n)), 0)
    garage_cars = np.where(
        rng.random(n) < 0.06, 0, np.clip(np.round(rng.normal(1.6 + 0.2 * (quality - 5), 0.6)), 1, 4)
    ).astype(int)
    has_garage = garage_cars > 0
    garage_area = np.where(has_garage, np.round(garage_cars * rng.normal(250, 30, n)), 0)
    fireplaces = rng.choice([0, 1, 2], n, p=[0.47, 0.45, 0.08])
    full_bath = np.clip(1 + (living > 1400) + (rng.random(n) < 0.1), 1, 3).astype(int)
    half_bath = (rng.random(n) < 0.38).astype(int)
    bedrooms = np.clip(np.round(living / 500 + rng.normal(0, 0.6, n)), 1, 6).astype(int)
    lot_area = np.round(np.exp(rng.normal(9.1, 0.35, n))).astype(int)
    frontage = np.round(np.sqrt(lot_area) * rng.normal(0.7, 0.1, n))
    frontage = np.where(rng.random(n) < 0.17, np.nan, frontage)
    veneer = _choice(rng, {"None": 0.59, "BrkFace": 0.31, "Stone": 0.1}, n)
    veneer_area = np.where(veneer == "None", 0.0, np.round(rng.gamma(2.0, 90.0, n)))
    veneer_missing = rng.random(n) < 0.006
    veneer = np.where(veneer_missing, "NA", veneer)
    veneer_area = np.where(veneer_missing, np.nan, veneer_area)
    kitchen = np.where(quality >= 8, "Gd", np.where(quality <= 4, "Fa", "TA"))
    kitchen = np.where(rng.random(n) < 0.1, "Ex", kitchen)
    exter = np.where(quality >= 7, "Gd", "TA")

    def basement_text(values: np.ndarray) -> np.ndarray:
        return np.where(has_basement, values, "NA")

    def garage_text(values: np.ndarray) -> np.ndarray:
        return np.where(has_garage, values, "NA")

    log_price = (
        11.0
        + np.log(level)
        + 0.09 * quality
        + 0.00035 * living
        + 0.0001 * basement
        + 0.0025 * (built - 1970)
        + 0.04 * garage_cars
        + 0.03 * fireplaces
        + 0.04 * (kitchen == "Ex")
        - 0.05 * (kitchen == "Fa")
        + rng.normal(0, 0.1, n)
    )
    frame: dict[str, object] = {
        "Id": np.arange(1, n + 1),
        "MSSubClass": np.where(two_storey, 60, rng.choice([20, 50, 120], n, p=[0.7, 0.2, 0.1])),
        "MSZoning": _choice(rng, {"RL": 0.79, "RM": 0.15, "FV": 0.04, "RH": 0.02}, n),
        "LotFrontage": frontage,
        "LotArea": lot_area,
        "Street": np.where(rng.random(n) < 0.996, "Pave", "Grvl"),
        "Alley": _choice(rng, {"NA": 0.94, "Grvl": 0.03, "Pave": 0.03}, n),
        "LotShape": _choice(rng, {"Reg": 0.63, "IR1": 0.34, "IR2": 0.03}, n),
        "LandContour": _choice(rng, {"Lvl": 0.9, "Bnk": 0.04, "HLS": 0.04, "Low": 0.02}, n),
        "Utilities": np.full(n, "AllPub"),
        "LotConfig": _choice(
            rng, {"Inside": 0.72, "Corner": 0.18, "CulDSac": 0.07, "FR2": 0.03}, n
        ),
        "LandSlope": _choice(rng, {"Gtl": 0.95, "Mod": 0.04, "Sev": 0.01}, n),
        "Neighborhood": hood,
        "Condition1": _choice(rng, {"Norm": 0.87, "Feedr": 0.06, "Artery": 0.04, "PosN": 0.03}, n),
        "Condition2": np.full(n, "Norm"),
        "BldgType": _choice(rng, {"1Fam": 0.84, "TwnhsE": 0.08, "Duplex": 0.04, "Twnhs": 0.04}, n),
        "HouseStyle": np.where(
            two_storey, "2Story", _choice(rng, {"1Story": 0.8, "1.5Fin": 0.2}, n)
        ),
        "OverallQual": quality,
        "OverallCond": np.clip(np.round(rng.normal(5.5, 1.0, n)), 1, 9).astype(int),
        "YearBuilt": built,
        "YearRemodAdd": remod,
        "RoofStyle": _choice(rng, {"Gable": 0.79, "Hip": 0.21}, n),
        "RoofMatl": np.full(n, "CompShg"),
        "Exterior1st": _choice(
            rng, {"VinylSd": 0.4, "HdBoard": 0.2, "MetalSd": 0.2, "Wd Sdng": 0.2}, n
        ),
        "Exterior2nd": _choice(
            rng, {"VinylSd": 0.4, "HdBoard": 0.2, "MetalSd": 0.2, "Wd Sdng": 0.2}, n
        ),
        "MasVnrType": veneer,
        "MasVnrArea": veneer_area,
        "ExterQual": np.where(rng.random(n) < 0.04, "Ex", exter),
        "ExterCond": _choice(rng, {"TA": 0.88, "Gd": 0.1, "Fa": 0.02}, n),
        "Foundation": np.where(
            built > 1990, "PConc", _choice(rng, {"CBlock": 0.8, "BrkTil": 0.2}, n)
        ),
        "BsmtQual": basement_text(np.where(quality >= 7, "Gd", "TA")),
        "BsmtCond": basement_text(np.full(n, "TA")),
        "BsmtExposure": basement_text(
            _choice(rng, {"No": 0.67, "Av": 0.15, "Gd": 0.1, "Mn": 0.08}, n)
        ),
        "BsmtFinType1": basement_text(np.where(finished > 0, "GLQ", "Unf")),
        "BsmtFinSF1": finished,
        "BsmtFinType2": basement_text(np.full(n, "Unf")),
        "BsmtFinSF2": np.zeros(n, dtype=int),
        "BsmtUnfSF": basement - finished,
        "TotalBsmtSF": basement,
        "Heating": np.full(n, "GasA"),
        "HeatingQC": _choice(rng, {"Ex": 0.51, "TA": 0.29, "Gd": 0.17, "Fa": 0.03}, n),
        "CentralAir": np.where(rng.random(n) < 0.93, "Y", "N"),
        "Electrical": _choice(rng, {"SBrkr": 0.92, "FuseA": 0.06, "FuseF": 0.02}, n),
        "1stFlrSF": first,
        "2ndFlrSF": second,
        "LowQualFinSF": np.zeros(n, dtype=int),
        "GrLivArea": living,
        "BsmtFullBath": np.where(has_basement & (rng.random(n) < 0.42), 1, 0),
        "BsmtHalfBath": np.where(has_basement & (rng.random(n) < 0.05), 1, 0),
        "FullBath": full_bath,
        "HalfBath": half_bath,
        "BedroomAbvGr": bedrooms,
        "KitchenAbvGr": np.ones(n, dtype=int),
        "KitchenQual": kitchen,
        "TotRmsAbvGrd": bedrooms + 2 + (living > 1800).astype(int),
        "Functional": _choice(rng, {"Typ": 0.93, "Min1": 0.03, "Min2": 0.03, "Mod": 0.01}, n),
        "Fireplaces": fireplaces,
        "FireplaceQu": np.where(
            fireplaces > 0, _choice(rng, {"Gd": 0.5, "TA": 0.4, "Fa": 0.1}, n), "NA"
        ),
        "GarageType": garage_text(
            np.where(built > 1980, "Attchd", _choice(rng, {"Attchd": 0.5, "Detchd": 0.5}, n))
        ),
        "GarageYrBlt": np.where(has_garage, built, np.nan),
        "GarageFinish": garage_text(_choice(rng, {"Unf": 0.44, "RFn": 0.31, "Fin": 0.25}, n)),
        "GarageCars": garage_cars,
        "GarageArea": garage_area,
        "GarageQual": garage_text(np.full(n, "TA")),
        "GarageCond": garage_text(np.full(n, "TA")),
        "PavedDrive": _choice(rng, {"Y": 0.92, "N": 0.06, "P": 0.02}, n),
        "WoodDeckSF": np.where(rng.random(n) < 0.48, np.round(rng.gamma(2, 90, n)), 0),
        "OpenPorchSF": np.where(rng.random(n) < 0.55, np.round(rng.gamma(2, 40, n)), 0),
        "EnclosedPorch": np.where(rng.random(n) < 0.14, np.round(rng.gamma(2, 60, n)), 0),
        "3SsnPorch": np.zeros(n, dtype=int),
        "ScreenPorch": np.where(rng.random(n) < 0.08, np.round(rng.gamma(3, 60, n)), 0),
        "PoolArea": np.zeros(n, dtype=int),
        "PoolQC": np.full(n, "NA"),
        "Fence": _choice(rng, {"NA": 0.81, "MnPrv": 0.11, "GdPrv": 0.04, "GdWo": 0.04}, n),
        "MiscFeature": _choice(rng, {"NA": 0.96, "Shed": 0.04}, n),
        "MiscVal": np.zeros(n, dtype=int),
        "MoSold": rng.choice(np.arange(1, 13), n),
        "YrSold": sold,
        "SaleType": _choice(rng, {"WD": 0.88, "New": 0.08, "COD": 0.04}, n),
        "SaleCondition": _choice(rng, {"Normal": 0.83, "Partial": 0.09, "Abnorml": 0.08}, n),
        "SalePrice": np.round(np.exp(log_price)).astype(np.int64),
    }
    out = pd.DataFrame(frame)
    for col in out.columns:
        kind = out[col].dtype.kind
        if kind in "US":
            out[col] = out[col].astype(object)
        elif kind == "f" and col not in ("LotFrontage", "MasVnrArea", "GarageYrBlt"):
            out[col] = out[col].astype(np.int64)
    return out


def make_synthetic_files(cfg: HousingConfig) -> dict[str, pd.DataFrame]:
    """Both Ames files from one synthetic population: ``train.csv`` is its first
    ``synthetic_rows`` sales, ``AmesHousing.csv`` (De Cock's names) all of them, so the
    held-out sales are the second half, as with the real files."""
    population = make_synthetic(2 * cfg.synthetic_rows, cfg.seed)
    train = population.head(cfg.synthetic_rows).copy()
    decock = tfdata.Manifest.load()[cfg.dataset].file(cfg.full_file).column_names
    rename = {kaggle_name(name): name for name in decock}
    full = population.drop(columns=["Id"]).rename(columns=rename)
    full.insert(0, "Order", np.arange(1, len(full) + 1))
    full.insert(1, "PID", [f"9{i:08d}" for i in range(len(full))])
    return {cfg.train_file: train, cfg.full_file: full[decock]}
