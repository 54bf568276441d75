"""A user's own CSV (``run --data``): numbers stored as text are read as numbers, blanks
are missing, and a value that is not a number is an error naming file, column and row,
never a silent missing value."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tenfold.data import read_user_csv
from tenfold.errors import SchemaError
from tenfold.pipelines import coerce_to_schema, infer_schema


def write(path: Path, balance: list[str]) -> Path:
    rows = [f"c{i},{value},{'yes' if i % 3 else 'no'}" for i, value in enumerate(balance)]
    path.write_text("id,balance,churned\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_numbers_as_text_and_blanks(tmp_path: Path) -> None:
    frame, _ = read_user_csv(write(tmp_path / "bank.csv", ["1.5", " ", "3", "NA", "4e2"]))
    schema = infer_schema(frame, target="churned", id_column="id")
    assert schema.numeric == ("balance",)
    coerced = coerce_to_schema(frame[schema.features], schema, label="bank.csv")
    values = coerced["balance"].tolist()
    assert values[0] == 1.5
    assert np.isnan(values[1])
    assert np.isnan(values[3])
    assert values[4] == 400.0


def test_a_value_that_is_not_a_number_is_named_with_file_column_and_row(tmp_path: Path) -> None:
    values = [f"{v}.25" for v in range(40)]
    values[17] = "12k"
    values[30] = "n.a."
    path = write(tmp_path / "bank.csv", values)
    frame, _ = read_user_csv(path)
    schema = infer_schema(frame, target="churned", id_column="id")
    assert schema.numeric == ("balance",)  # 95 % of it parses: a number column
    with pytest.raises(SchemaError) as error:
        coerce_to_schema(frame[schema.features], schema, label=str(path))
    assert str(error.value).startswith(
        f"{path}: column 'balance', row 18: '12k' is not a number (1 more row(s) like it)"
    )


def test_a_mostly_text_column_stays_a_category_and_the_id_is_optional(tmp_path: Path) -> None:
    frame, _ = read_user_csv(write(tmp_path / "bank.csv", ["gold", "1", "silver", "gold"]))
    schema = infer_schema(frame, target="churned")  # no id column named: none is needed
    assert (schema.numeric, schema.categorical) == ((), ("id", "balance"))
    coerced = coerce_to_schema(frame[schema.features], schema)  # nothing to refuse
    assert coerced["balance"].tolist() == ["gold", "1", "silver", "gold"]
