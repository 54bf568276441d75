"""The churn API against its own OpenAPI document: schemathesis, in-process, every
check, a bounded derandomised number of cases (the small test model, not a training)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis

from churn.serve import SPEC, ChurnPredictor, ChurnSettings
from tenfold.explain import encoded_mean
from tenfold.serving import ModelCard, create_app
from tenfold.serving.fuzzing import Tally, contract_schema
from tenfold.serving.fuzzing import schemathesis_node_id as schemathesis_node_id  # autouse
from tenfold.serving.fuzzing import schemathesis_report as schemathesis_report  # autouse

TALLY = Tally("churn")


@pytest.fixture(scope="module")
def churn_schema(small_model: Any) -> Any:
    pipeline, data = small_model
    predictor = ChurnPredictor(
        pipeline,
        threshold=0.35,
        card=ModelCard(name="churn", version="7", run_id="r1"),
        background_mean=encoded_mean(pipeline, data.X_train),
    )
    return contract_schema(create_app(SPEC, ChurnSettings(), predictor=predictor), max_examples=100)


schema = schemathesis.pytest.from_fixture("churn_schema")


@schema.parametrize()
def test_the_api_keeps_its_contract(case: Any) -> None:
    TALLY.call_and_validate(case)
