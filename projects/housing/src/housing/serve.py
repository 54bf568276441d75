"""The housing API: request and response models, and the predictor handed to
``tenfold.serving.create_app``.

A request is one house in the Kaggle/Ames columns. Four are required (neighbourhood,
living area, overall quality, year built); any other may be left out or null, and the
champion's own pipeline then treats it as missing (imputed from the training sales as in
cross-validation). A category the training sales never had is accepted and scored as
unknown, with a note in the response. The response is the stack's price and its CV+
interval at the model's confidence level.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, field_validator

from housing.compiled import compile_conformal
from housing.config import HousingConfig
from tenfold import tracking
from tenfold.serving import (
    Integer,
    InvalidInput,
    ModelCard,
    Number,
    ServiceSettings,
    ServiceSpec,
    card_from_record,
    request_config,
)

Grade = Literal["Ex", "Gd", "TA", "Fa", "Po"]
# "NA" = the house has none (no basement, garage, fireplace, pool)
GradeOrNone = Literal["Ex", "Gd", "TA", "Fa", "Po", "NA"]
Category = str
# numbers as JSON means them: `true` or "1710" is not a living area
Year = Integer
Area = Number
# the published model's scope (De Cock's recommendation); the schema states it
MAX_LIVING_AREA = HousingConfig.max_living_area


def _text(description: str = "") -> Any:
    return Field(default=None, max_length=32, description=description)


def _count(upper: int, description: str = "") -> Any:
    return Field(default=None, ge=0, le=upper, description=description)


def _area(description: str = "") -> Any:
    return Field(default=None, ge=0, le=250_000, description=description)


def _year(description: str = "") -> Any:
    return Field(default=None, ge=1800, le=2100, description=description)


EXAMPLE: dict[str, Any] = {
    "Neighborhood": "CollgCr",
    "GrLivArea": 1710,
    "OverallQual": 7,
    "YearBuilt": 2003,
    "YearRemodAdd": 2003,
    "HouseStyle": "2Story",
    "1stFlrSF": 856,
    "2ndFlrSF": 854,
    "TotalBsmtSF": 856,
    "BsmtQual": "Gd",
    "FullBath": 2,
    "HalfBath": 1,
    "BedroomAbvGr": 3,
    "KitchenQual": "Gd",
    "GarageCars": 2,
    "GarageArea": 548,
    "GarageType": "Attchd",
    "LotArea": 8450,
}


class HouseRequest(BaseModel):
    """One house, in the Kaggle House Prices columns (data_description.txt)."""

    model_config = request_config(EXAMPLE, populate_by_name=True)

    Neighborhood: Category = Field(min_length=1, max_length=32, description="e.g. NAmes, CollgCr")
    GrLivArea: Area = Field(
        gt=0,
        description=f"living area above ground (sq ft), up to {MAX_LIVING_AREA:.0f}: the "
        "model's scope (De Cock's recommendation)",
        json_schema_extra={"maximum": MAX_LIVING_AREA},
    )
    OverallQual: Integer = Field(ge=1, le=10, description="overall material and finish, 1-10")
    YearBuilt: Year = Field(ge=1800, le=2100)

    MSSubClass: Integer | None = Field(
        default=None, ge=20, le=190, description="dwelling type code"
    )
    MSZoning: Category | None = _text()
    LotFrontage: Area | None = _area("feet of street connected to the lot")
    LotArea: Area | None = _area("lot size (sq ft)")
    Street: Category | None = _text()
    Alley: Category | None = _text('"NA" = no alley access')
    LotShape: Category | None = _text()
    LandContour: Category | None = _text()
    Utilities: Category | None = _text()
    LotConfig: Category | None = _text()
    LandSlope: Category | None = _text()
    Condition1: Category | None = _text()
    Condition2: Category | None = _text()
    BldgType: Category | None = _text()
    HouseStyle: Category | None = _text("e.g. 1Story, 2Story, 1.5Fin")
    OverallCond: Integer | None = Field(default=None, ge=1, le=10)
    YearRemodAdd: Year | None = _year("remodel year (= YearBuilt if never)")
    RoofStyle: Category | None = _text()
    RoofMatl: Category | None = _text()
    Exterior1st: Category | None = _text()
    Exterior2nd: Category | None = _text()
    MasVnrType: Category | None = _text()
    MasVnrArea: Area | None = _area()
    ExterQual: Grade | None = None
    ExterCond: Grade | None = None
    Foundation: Category | None = _text()
    BsmtQual: GradeOrNone | None = None
    BsmtCond: GradeOrNone | None = None
    BsmtExposure: Literal["Gd", "Av", "Mn", "No", "NA"] | None = None
    BsmtFinType1: Literal["GLQ", "ALQ", "BLQ", "Rec", "LwQ", "Unf", "NA"] | None = None
    BsmtFinSF1: Area | None = _area()
    BsmtFinType2: Literal["GLQ", "ALQ", "BLQ", "Rec", "LwQ", "Unf", "NA"] | None = None
    BsmtFinSF2: Area | None = _area()
    BsmtUnfSF: Area | None = _area()
    TotalBsmtSF: Area | None = _area("basement area (sq ft); 0 = no basement")
    Heating: Category | None = _text()
    HeatingQC: Grade | None = None
    CentralAir: Literal["Y", "N"] | None = None
    Electrical: Category | None = _text()
    FirstFlrSF: Area | None = Field(default=None, ge=0, le=10_000, alias="1stFlrSF")
    SecondFlrSF: Area | None = Field(default=None, ge=0, le=10_000, alias="2ndFlrSF")
    LowQualFinSF: Area | None = _area()
    BsmtFullBath: Integer | None = _count(6)
    BsmtHalfBath: Integer | None = _count(6)
    FullBath: Integer | None = _count(10)
    HalfBath: Integer | None = _count(10)
    BedroomAbvGr: Integer | None = _count(20)
    KitchenAbvGr: Integer | None = _count(5)
    KitchenQual: Grade | None = None
    TotRmsAbvGrd: Integer | None = _count(30)
    Functional: Literal["Typ", "Min1", "Min2", "Mod", "Maj1", "Maj2", "Sev", "Sal"] | None = None
    Fireplaces: Integer | None = _count(10)
    FireplaceQu: GradeOrNone | None = None
    GarageType: Category | None = _text('"NA" = no garage')
    GarageYrBlt: Year | None = _year()
    GarageFinish: Literal["Fin", "RFn", "Unf", "NA"] | None = None
    GarageCars: Integer | None = _count(10, "garage size in cars; 0 = no garage")
    GarageArea: Area | None = _area()
    GarageQual: GradeOrNone | None = None
    GarageCond: GradeOrNone | None = None
    PavedDrive: Literal["Y", "P", "N"] | None = None
    WoodDeckSF: Area | None = _area()
    OpenPorchSF: Area | None = _area()
    EnclosedPorch: Area | None = _area()
    ThreeSsnPorch: Area | None = Field(default=None, ge=0, le=250_000, alias="3SsnPorch")
    ScreenPorch: Area | None = _area()
    PoolArea: Area | None = _area()
    PoolQC: GradeOrNone | None = None
    Fence: Category | None = _text()
    MiscFeature: Category | None = _text()
    MiscVal: Number | None = Field(default=None, ge=0, le=1_000_000)
    MoSold: Integer | None = Field(default=None, ge=1, le=12)
    YrSold: Year | None = _year()
    SaleType: Category | None = _text()
    SaleCondition: Category | None = _text()

    @field_validator("GrLivArea")
    @classmethod
    def within_scope(cls, value: float) -> float:
        """Houses beyond the training scope are refused (422), not extrapolated."""
        if value > MAX_LIVING_AREA:
            raise ValueError(
                f"{value:.0f} sq ft is beyond the model's scope: it was trained on houses "
                f"up to {MAX_LIVING_AREA:.0f} sq ft (De Cock's recommendation)"
            )
        return value

    def record(self) -> dict[str, Any]:
        """The house under the data's own column names (``1stFlrSF``, not FirstFlrSF)."""
        return self.model_dump(by_alias=True)


class PriceInterval(BaseModel):
    lower: float
    upper: float
    confidence_level: float


class HousePricePrediction(BaseModel):
    predicted_price: float = Field(description="US dollars (2006-2010 sales)")
    interval: PriceInterval = Field(description="CV+ conformal prediction interval")
    notes: list[str] = Field(default_factory=list)
    model_version: str | None = None


class HousePredictor:
    """Prices requests with the champion: the stack and its CV+ intervals."""

    def __init__(self, model: Any, *, card: ModelCard, metadata: Mapping[str, Any]) -> None:
        self.model = model
        self.card = card
        self.confidence_level = float(metadata["confidence_level"])
        self.max_living_area = float(metadata["max_living_area"])
        self.columns = [str(c) for c in model.feature_names_in_]
        self.known = {k: set(v) for k, v in metadata.get("categories", {}).items()}
        # the same prices and intervals in milliseconds (housing.compiled), when every
        # step of the model has a numpy twin; else the model itself
        self.compiled = compile_conformal(model)

    def check(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Houses beyond the training scope are refused (422), not extrapolated."""
        for i, record in enumerate(records):
            area = record.get("GrLivArea")
            if area is not None and area > self.max_living_area:
                where = "GrLivArea" if len(records) == 1 else f"items.{i}.GrLivArea"
                raise InvalidInput(
                    where,
                    f"{area:.0f} sq ft is beyond the model's scope: it was trained on houses "
                    f"up to {self.max_living_area:.0f} sq ft (De Cock's recommendation)",
                )

    def notes(self, record: Mapping[str, Any]) -> list[str]:
        notes = []
        missing = sum(record.get(c) is None for c in self.columns)
        if missing:
            notes.append(
                f"{missing} of {len(self.columns)} characteristics not given: imputed from the "
                "training sales (typical values); a fuller description gives a better price"
            )
        for column, levels in self.known.items():
            value = record.get(column)
            if value is not None and str(value) not in levels:
                notes.append(f"{column}={value!r} was not in the training sales: scored as unknown")
        return notes

    def frame(self, records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
        frame = pd.DataFrame(list(records)).reindex(columns=self.columns)
        return frame.astype(object).where(frame.notna(), np.nan)

    def price(
        self, records: Sequence[Mapping[str, Any]]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self.check(records)
        if self.compiled is not None:
            columns = {c: [record.get(c) for record in records] for c in self.columns}
            return self.compiled.predict_interval(columns)
        point, lower, upper = self.model.predict_interval(self.frame(records))
        return np.asarray(point), np.asarray(lower), np.asarray(upper)

    def predict(self, items: Sequence[HouseRequest]) -> list[HousePricePrediction]:
        records = [item.record() for item in items]
        point, lower, upper = self.price(records)
        return [
            HousePricePrediction(
                predicted_price=round(float(point[i])),
                interval=PriceInterval(
                    lower=round(float(lower[i])),
                    upper=round(float(upper[i])),
                    confidence_level=self.confidence_level,
                ),
                notes=self.notes(record),
                model_version=self.card.version,
            )
            for i, record in enumerate(records)
        ]

    def score_frame(self, frame: pd.DataFrame, id_column: str | None = "Id") -> pd.DataFrame:
        """Batch pricing of a whole file; rows beyond the scope get no price, and say so."""
        area = pd.to_numeric(frame["GrLivArea"], errors="coerce")
        in_scope = ~(area > self.max_living_area).to_numpy()
        out = pd.DataFrame(index=range(len(frame)))
        if id_column and id_column in frame.columns:
            out[id_column] = frame[id_column].to_numpy()
        out["predicted_price"] = np.nan
        out["lower"] = np.nan
        out["upper"] = np.nan
        if in_scope.any():
            # the same frame as ``self.frame(records)``, built from columns, not rows
            houses = frame.loc[in_scope].reindex(columns=self.columns).reset_index(drop=True)
            houses = houses.astype(object).where(houses.notna(), np.nan)
            if self.compiled is not None:
                columns = {c: houses[c].to_numpy() for c in self.columns}
                point, lower, upper = self.compiled.predict_interval(columns)
            else:
                point, lower, upper = self.model.predict_interval(houses)
            out.loc[in_scope, ["predicted_price", "lower", "upper"]] = np.round(
                np.column_stack([point, lower, upper])
            )
        out["note"] = np.where(
            in_scope, "", f"GrLivArea above {self.max_living_area:.0f} sq ft: out of scope"
        )
        return out


def load(uri: str) -> HousePredictor:
    """A predictor for any housing champion in the registry or on disk."""
    record = tracking.load_sklearn_model(uri)
    meta = record.metadata
    card = card_from_record(
        record,
        details={
            "candidate": meta.get("candidate"),
            "confidence_level": meta.get("confidence_level"),
            "max_living_area": meta.get("max_living_area"),
            "ames_schema": meta.get("ames_schema", True),
        },
        metric_prefixes=("cv_", "heldout_"),
    )
    if meta.get("confidence_level") is None:
        raise tracking.IncompatibleModel(uri, "not a model with intervals (the stack champion)")
    return HousePredictor(record.model, card=card, metadata=meta)


class HousingSettings(ServiceSettings):
    """The housing service's environment (``TENFOLD_*``): a house can carry all 79
    characteristics (up to about 4 KB of JSON), so a full batch needs a larger body."""

    max_body_bytes: int = Field(
        default=4 << 20,
        ge=1024,
        description="request bodies above this are refused (413) before they are parsed",
    )


def load_predictor(settings: ServiceSettings) -> HousePredictor:
    predictor = load(uri := SPEC.model_uri(settings))
    custom = predictor.card.details.get("ames_schema") is False
    return tracking.refuse_if(predictor, uri, custom, tracking.CUSTOM_CSV.format(schema="Ames"))


SPEC = ServiceSpec(
    name="housing",
    title="tenfold housing API",
    description="Ames house price (stacked ensemble) with a 90 % conformal prediction interval.",
    settings=HousingSettings,
    request=HouseRequest,
    response=HousePricePrediction,
    load=load_predictor,
    default_model_uri="models:/housing@champion",
)

# the ASGI app factory: ``uvicorn --factory housing.serve:app``
app = SPEC.app
