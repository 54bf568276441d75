"""The fraud API against its own OpenAPI document: schemathesis, in-process, every
check, a bounded derandomised number of cases (the small test model, not a training).

Two rules of a transaction cannot be said in JSON Schema, which compares no two fields
and bounds no date: the history windows nest (1 day <= 7 days <= 30 days) and the
timestamp is in 2000-2099. The schema's description states them, the API answers a
field-level 422, and the test makes schemathesis's *valid* cases obey them (its
invalid cases are left alone), so a 422 on a valid case is still a failure.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis

from fraud.serve import SPEC, FraudPredictor, FraudSettings
from tenfold.serving import ModelCard, create_app
from tenfold.serving.fuzzing import Tally, contract_schema, is_positive
from tenfold.serving.fuzzing import schemathesis_node_id as schemathesis_node_id  # autouse
from tenfold.serving.fuzzing import schemathesis_report as schemathesis_report  # autouse

TALLY = Tally("fraud")
_YEAR = re.compile(r"^[0-9]{4}")


def obey_documented_rules(item: Any) -> None:
    """The two rules of the description, on one schema-valid transaction."""
    if not isinstance(item, dict):
        return
    for entity, average in (("customer", "customer_avg_amount"), ("terminal", "terminal_risk")):
        windows = ("1day", "7day", "30day")
        names = [f"{entity}_nb_tx_{w}" for w in windows]
        counts = [item.get(n) for n in names]
        if all(isinstance(c, int | float) and not isinstance(c, bool) for c in counts):
            item.update(zip(names, sorted(counts), strict=True))  # type: ignore[type-var]
            # a window that now has no transactions has a zero average (the schema's rule)
            for window, name in zip(windows, names, strict=True):
                if item[name] == 0 and f"{average}_{window}" in item:
                    item[f"{average}_{window}"] = 0
    stamp = item.get("tx_datetime")
    if isinstance(stamp, str) and _YEAR.match(stamp):
        # keep the leap-year parity, so a valid 29 February stays valid
        year = 2000 + int(stamp[:4]) % 4
        item["tx_datetime"] = f"{year:04d}{stamp[4:]}"


@pytest.fixture(scope="module")
def fraud_schema(small_model: Any) -> Any:
    pipeline, _ = small_model
    predictor = FraudPredictor(
        pipeline,
        threshold=0.2,
        review_cost=5.0,
        card=ModelCard(name="fraud", version="3", run_id="r9"),
    )
    app = create_app(SPEC, FraudSettings(), predictor=predictor)
    return contract_schema(app, max_examples=100)


schema = schemathesis.pytest.from_fixture("fraud_schema")


@schema.parametrize()
def test_the_api_keeps_its_contract(case: Any) -> None:
    if is_positive(case) and isinstance(case.body, dict):
        for item in case.body.get("items", [case.body]):
            obey_documented_rules(item)
    TALLY.call_and_validate(case)
