"""The topic API against its own OpenAPI document: schemathesis, in-process, every
check, a bounded derandomised number of cases (the small TF-IDF model, not a training)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis

from nlp.serve import SPEC, NlpSettings, TopicPredictor
from tenfold.serving import ModelCard, create_app
from tenfold.serving.fuzzing import Tally, contract_schema
from tenfold.serving.fuzzing import schemathesis_node_id as schemathesis_node_id  # autouse
from tenfold.serving.fuzzing import schemathesis_report as schemathesis_report  # autouse

TALLY = Tally("nlp")


@pytest.fixture(scope="module")
def nlp_schema(tfidf_model: Any) -> Any:
    pipeline, _ = tfidf_model
    predictor = TopicPredictor(
        pipeline, card=ModelCard(name="nlp", version="3", run_id="r1"), candidate="tfidf"
    )
    app = create_app(SPEC, NlpSettings(), predictor=predictor)
    return contract_schema(app, max_examples=60)


schema = schemathesis.pytest.from_fixture("nlp_schema")


@schema.parametrize()
def test_the_api_keeps_its_contract(case: Any) -> None:
    TALLY.call_and_validate(case)
