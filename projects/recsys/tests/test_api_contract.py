"""The recsys API against its own OpenAPI document: schemathesis, in-process on the
in-process store, every check, a bounded derandomised number of cases (the tiny model of
the fixtures, not a training)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis

from recsys.serve import SPEC, RecsysModel, RecsysSettings
from recsys.snapshot import ServingModel
from tenfold.serving import ModelCard, create_app
from tenfold.serving.fuzzing import Tally, contract_schema
from tenfold.serving.fuzzing import schemathesis_node_id as schemathesis_node_id  # autouse
from tenfold.serving.fuzzing import schemathesis_report as schemathesis_report  # autouse

TALLY = Tally("recsys")


@pytest.fixture(scope="module")
def recsys_schema(serving: ServingModel) -> Iterator[Any]:
    mp = pytest.MonkeyPatch()
    mp.setenv("RECSYS_STORE", "memory")
    served = RecsysModel(serving, ModelCard(name="recsys", version="7"))
    yield contract_schema(create_app(SPEC, RecsysSettings(), predictor=served), max_examples=60)
    mp.undo()


schema = schemathesis.pytest.from_fixture("recsys_schema")


@schema.parametrize()
def test_the_api_keeps_its_contract(case: Any) -> None:
    TALLY.call_and_validate(case)
