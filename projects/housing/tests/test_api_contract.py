"""The housing API against its own OpenAPI document: schemathesis, in-process, every
check, a bounded derandomised number of cases (the small test stack, not a training).

Fewer cases than the other APIs, and no coverage phase (boundary values of each of the
79 fields, about 2,000 cases): pricing one house takes about a second today. Once
``/v1/predict`` meets its 50 ms goal (issue 8), use the defaults of the other projects
(``max_examples=100``, coverage on).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis

from housing.features import known_categories
from housing.serve import MAX_LIVING_AREA, SPEC, HousePredictor, HousingSettings
from housing.train import Candidate, Prepared
from tenfold.serving import ModelCard, create_app
from tenfold.serving.fuzzing import Tally, contract_schema
from tenfold.serving.fuzzing import schemathesis_node_id as schemathesis_node_id  # autouse
from tenfold.serving.fuzzing import schemathesis_report as schemathesis_report  # autouse

TALLY = Tally("housing")


@pytest.fixture(scope="module")
def housing_schema(small_stack: Candidate, prepared: Prepared) -> Any:
    metadata = {
        "confidence_level": 0.9,
        "max_living_area": MAX_LIVING_AREA,
        "categories": known_categories(prepared.X),
    }
    predictor = HousePredictor(
        small_stack.model, card=ModelCard(name="housing", version="test"), metadata=metadata
    )
    app = create_app(SPEC, HousingSettings(), predictor=predictor)
    return contract_schema(app, max_examples=25, coverage=False)


schema = schemathesis.pytest.from_fixture("housing_schema")


@schema.parametrize()
def test_the_api_keeps_its_contract(case: Any) -> None:
    TALLY.call_and_validate(case)
