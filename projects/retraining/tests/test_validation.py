"""A batch is checked against its contract before anything trains on it: every problem
is reported, with the column and the first bad row."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from retraining.config import RetrainingConfig
from retraining.fraud_target import FraudTarget
from retraining.interface import BatchContract
from retraining.validation import check_batch, period_of
from tenfold.data import ColumnSpec

CONTRACT = BatchContract(
    columns=(
        ColumnSpec("id", "int"),
        ColumnSpec("amount", "float"),
        ColumnSpec("note", "str", nullable=True),
        ColumnSpec("label", "int"),
    ),
    label="label",
    min_rows=3,
    max_rows=10,
    max_null_share=0.5,
    label_rate=(0.1, 0.5),
)


def csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


GOOD = pd.DataFrame(
    {
        "id": [1, 2, 3, 4],
        "amount": [1.5, 2.0, 3.25, 4.0],
        "note": ["a", "", "c", "d"],
        "label": [0, 1, 0, 0],
    }
)


def test_a_good_batch_parses_to_its_types() -> None:
    frame, problems = check_batch(csv(GOOD), CONTRACT, label="b.csv")
    assert problems == []
    assert frame is not None
    assert frame["id"].dtype == "int64"
    assert frame["amount"].dtype == "float64"
    assert frame["note"].isna().sum() == 1  # a blank optional text is missing, not ""


def test_every_problem_of_a_broken_batch_is_reported() -> None:
    broken = pd.DataFrame(
        {"id": [1, 2], "amount": ["1.5", "twelve"], "note": ["", ""], "label": [1, 1]}
    )
    frame, problems = check_batch(csv(broken), CONTRACT, label="b.csv")
    assert frame is None
    assert problems == [
        "2 rows, fewer than the 3 a batch must have",
        "column 'amount', row 2: cannot parse as float: 'twelve'",
        "column 'note': 2 missing value(s) (100.0%, at most 50.0%), first at row 1",
        "label rate 100.00% (label == 1) outside [10.00%, 50.00%]",
    ]


def test_required_values_and_columns() -> None:
    missing_value = GOOD.assign(id=["1", "", "3", "4"])
    _, problems = check_batch(csv(missing_value), CONTRACT, label="b.csv")
    assert problems == ["column 'id': 1 missing value(s) (25.0%, none allowed), first at row 2"]
    _, problems = check_batch(csv(GOOD.drop(columns=["amount"])), CONTRACT, label="b.csv")
    assert problems[0].startswith("missing column(s) ['amount']")
    _, problems = check_batch(b"\x00\xff\xfe garbage", CONTRACT, label="b.csv")
    assert problems
    assert "cannot read" in problems[0]
    too_many = pd.concat([GOOD] * 3, ignore_index=True)
    _, problems = check_batch(csv(too_many), CONTRACT, label="b.csv")
    assert problems == ["12 rows, more than the 10 a batch may have"]


@pytest.mark.parametrize(
    ("key", "day"),
    [
        ("incoming/fraud/2018-07-01.csv", dt.date(2018, 7, 1)),
        ("incoming/fraud/2018-07-01.v2.csv", dt.date(2018, 7, 1)),
        ("incoming/fraud/2018-02-30.csv", None),
        ("incoming/fraud/latest.csv", None),
    ],
)
def test_the_day_comes_from_the_key(key: str, day: dt.date | None) -> None:
    assert period_of(key) == day


def test_fraud_checks_what_the_schema_cannot(world) -> None:  # type: ignore[no-untyped-def]
    from retraining.scenario import batch_of

    target = FraudTarget(RetrainingConfig())
    batch = batch_of(world, 10).reset_index(drop=True)
    day = world.date(10)
    assert target.validate(batch, day) == []
    wrong = batch.copy()
    wrong.loc[0, "tx_amount"] = -3.0
    wrong.loc[1, "transaction_id"] = wrong.loc[2, "transaction_id"]
    assert target.validate(wrong, day + dt.timedelta(days=1)) == [
        f"{len(batch)} transaction(s) not dated {day + dt.timedelta(days=1)}",
        "1 transaction(s) with a negative amount",
        "1 duplicated transaction_id value(s)",
    ]
