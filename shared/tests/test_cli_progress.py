"""Progress without a terminal (a log, CI): rich would draw nothing until the end, so the
bar becomes one plain line per tenth of the work."""

from __future__ import annotations

import re

import pytest

from tenfold.cli import progress


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_a_line_at_every_tenth_without_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with progress("backtest fits", 20) as update:
        for done in range(1, 21):
            update(done, 20)
    printed = lines(capsys.readouterr().err)
    assert [re.sub(r" \(\d+ s\)$", "", line) for line in printed] == [
        f"backtest fits: {done}/20" for done in range(2, 21, 2)
    ]


def test_a_jump_to_the_end_prints_once(capsys: pytest.CaptureFixture[str]) -> None:
    with progress("tuning", 7) as update:
        update(0, 7)
        update(7, 7)
        update(7, 7)
    printed = lines(capsys.readouterr().err)
    assert len(printed) == 1
    assert printed[0].startswith("tuning: 7/7 (")


def test_an_empty_stage_prints_nothing_until_it_is_done(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with progress("refit", 0) as update:
        pass
    assert capsys.readouterr().err == ""
    with progress("refit", 0) as update:
        update(0, 0)
    assert lines(capsys.readouterr().err)[0].startswith("refit: 0/0")
