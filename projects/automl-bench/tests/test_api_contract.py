"""The results API against its own OpenAPI document: schemathesis, in-process, every
check, a bounded derandomised number of cases (on the hand-made publication)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis

from automl_bench import results, serve
from tenfold.serving import create_app
from tenfold.serving.fuzzing import Tally, contract_schema
from tenfold.serving.fuzzing import schemathesis_node_id as schemathesis_node_id  # autouse
from tenfold.serving.fuzzing import schemathesis_report as schemathesis_report  # autouse

TALLY = Tally("automl_bench")


@pytest.fixture(scope="module")
def results_schema(publication_dir: Path) -> Any:
    publication = results.load(str(publication_dir))
    return contract_schema(create_app(serve.SPEC, predictor=publication), max_examples=30)


schema = schemathesis.pytest.from_fixture("results_schema")


@schema.parametrize()
def test_the_api_keeps_its_contract(case: Any) -> None:
    TALLY.call_and_validate(case)
