"""Checks every batch goes through before anything is trained on it.

:func:`check_batch` reads a CSV object's bytes as text and reports *every* problem it
finds (not only the first): unreadable bytes, missing columns, too few or too many
rows, missing values, values that do not parse as their column's type (with the column
and the first bad row), and a label rate outside the contract's bounds. A batch with
any problem is quarantined with these messages as its reasons.
"""

from __future__ import annotations

import datetime as dt
import io
import re

import numpy as np
import pandas as pd

from retraining.interface import BatchContract
from tenfold.data import NUMERIC_MISSING, ColumnSpec, parse_columns
from tenfold.errors import DataError

_DAY = re.compile(r"(\d{4}-\d{2}-\d{2})")


def period_of(key: str) -> dt.date | None:
    """The day an object's name starts with (``incoming/fraud/2018-07-01.csv`` and
    ``2018-07-01.v2.csv`` → 2018-07-01), or None when it names no valid day."""
    name = key.rsplit("/", 1)[-1]
    found = _DAY.match(name)
    if found is None:
        return None
    try:
        return dt.date.fromisoformat(found.group(1))
    except ValueError:
        return None


def read_text_table(raw: bytes, *, label: str) -> pd.DataFrame:
    """A CSV's cells as text (no type guessing, blanks kept as empty strings)."""
    try:
        return pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{label}: cannot read as CSV: {exc}") from None


def _blank(values: pd.Series, spec: ColumnSpec) -> pd.Series:
    text = values.astype(str).str.strip()
    return text.isin(NUMERIC_MISSING) if spec.dtype in ("int", "float") else text == ""


def check_batch(
    raw: bytes, contract: BatchContract, *, label: str
) -> tuple[pd.DataFrame | None, list[str]]:
    """The batch's rows parsed to their types, or None, and every problem found."""
    try:
        text = read_text_table(raw, label=label)
    except DataError as exc:
        return None, [str(exc).removeprefix(f"{label}: ")]
    problems: list[str] = []
    missing = [c.name for c in contract.columns if c.name not in text.columns]
    if missing:
        return None, [f"missing column(s) {missing}; found {list(text.columns)[:30]}"]
    rows = len(text)
    if rows < contract.min_rows:
        problems.append(f"{rows} rows, fewer than the {contract.min_rows} a batch must have")
    if contract.max_rows is not None and rows > contract.max_rows:
        problems.append(f"{rows} rows, more than the {contract.max_rows} a batch may have")
    parsed: dict[str, pd.Series] = {}
    for spec in contract.columns:
        blank = _blank(text[spec.name], spec)
        count = int(blank.sum())
        if count and (not spec.nullable or count / max(rows, 1) > contract.max_null_share):
            first = int(np.flatnonzero(blank.to_numpy())[0]) + 1
            allowed = (
                "none allowed" if not spec.nullable else f"at most {contract.max_null_share:.1%}"
            )
            problems.append(
                f"column {spec.name!r}: {count} missing value(s) ({count / max(rows, 1):.1%}, "
                f"{allowed}), first at row {first}"
            )
        lenient = ColumnSpec(spec.name, spec.dtype, nullable=True)
        try:
            parsed[spec.name] = parse_columns(text[[spec.name]], [lenient], label=label)[spec.name]
        except DataError as exc:
            problems.append(str(exc).removeprefix(f"{label}: "))
    if contract.label in parsed and rows:
        rate = float((parsed[contract.label] == contract.positive).mean())
        low, high = contract.label_rate
        if not low <= rate <= high:
            problems.append(
                f"label rate {rate:.2%} ({contract.label} == {contract.positive!r}) outside "
                f"[{low:.2%}, {high:.2%}]"
            )
    if problems:
        return None, problems
    frame = text.copy()
    for name, values in parsed.items():
        frame[name] = values
    return frame, []
