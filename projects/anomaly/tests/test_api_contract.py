"""The anomaly API against its own OpenAPI document: schemathesis, in-process, every
check, a bounded derandomised number of cases (a small detector configuration)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import schemathesis

from anomaly.config import COMBINED, DetectorConfig
from anomaly.serve import EXAMPLE_SERIES, SPEC, AnomalyPredictor, AnomalySettings, SeriesRequest
from anomaly.train import AnomalyModel
from tenfold.serving import ModelCard, create_app
from tenfold.serving.fuzzing import Tally, contract_schema, enabled_checks, is_positive
from tenfold.serving.fuzzing import schemathesis_node_id as schemathesis_node_id  # autouse
from tenfold.serving.fuzzing import schemathesis_report as schemathesis_report  # autouse

TALLY = Tally("anomaly")
NAMES = ("zscore", "iqr", "iforest", "lof")


@pytest.fixture(scope="module")
def anomaly_schema(small_cfg: DetectorConfig) -> Any:
    model = AnomalyModel(
        detectors=NAMES,
        detector_config=dataclasses.asdict(small_cfg),
        thresholds=dict.fromkeys((*NAMES, *COMBINED), 0.3),
        seed=1,
    ).fit()
    predictor = AnomalyPredictor(model, ModelCard(name="anomaly", version="7", run_id="r1"))
    # the first scoring imports PyOD and compiles its numba code: not within a request's
    # timeout on a busy machine
    predictor.score_series(SeriesRequest.model_validate(EXAMPLE_SERIES))
    # small batches and bodies keep every case within schemathesis' 10 s request timeout
    # on a shared machine: the largest series the schema allows is answered with a 413
    settings = AnomalySettings(stream_probation=10, max_batch=3, max_body_bytes=64 * 1024)
    app = create_app(SPEC, settings, predictor=predictor)
    return contract_schema(app, max_examples=30)


schema = schemathesis.pytest.from_fixture("anomaly_schema")


def breaks_a_rule_stated_in_words(body: Any, response: Any) -> bool:
    """The rules JSON Schema cannot state (the descriptions say them): every point of a
    series has the same number of variables, ``probation`` is below the number of points,
    and a stream keeps the number of variables it began with (a 422 on ``values``)."""
    if isinstance(body, dict) and isinstance(body.get("items"), list):  # a batch
        return any(breaks_a_rule_stated_in_words(item, response) for item in body["items"])
    if not isinstance(body, dict) or not isinstance(body.get("values"), list):
        return False
    values = body["values"]
    widths = {len(v) for v in values if isinstance(v, list)}
    probation = body.get("probation")
    # an integral number: 90.0 is an integer to the API
    too_long = isinstance(probation, int | float) and probation >= len(values)
    if len(widths) > 1 or too_long:
        return True
    detail = response.json().get("detail", [])
    return any("this stream has" in str(d.get("message")) for d in detail)


@schema.parametrize()
def test_the_api_keeps_its_contract(case: Any) -> None:
    """``TALLY.call_and_validate`` with one exception: a schema-valid request that
    breaks a rule stated in words is answered with a 422 (the documented answer)."""
    from schemathesis.core.failures import FailureGroup

    label = case.operation.label
    TALLY.checks = TALLY.checks or enabled_checks(case.operation.schema)
    TALLY.cases[label] += 1
    response = case.call()
    TALLY.statuses[(label, response.status_code)] += 1
    if (
        is_positive(case)
        and response.status_code == 422
        and breaks_a_rule_stated_in_words(case.body, response)
    ):
        return
    try:
        case.validate_response(response)
    except FailureGroup as group:
        for failure in group.exceptions:
            for check in type(failure).checks or (type(failure).__name__,):
                TALLY.failures[check] += 1
        raise
