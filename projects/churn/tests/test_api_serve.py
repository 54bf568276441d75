"""`python -m churn serve` without a registered champion: one line saying what to run."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from churn.__main__ import app
from tenfold.testing import output_has


@pytest.mark.usefixtures("isolated_tracking")
def test_serve_without_a_champion_says_what_to_run() -> None:
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2
    assert output_has(result, "no churn@champion yet: run `make churn`")
    assert "Traceback" not in result.output


@pytest.mark.usefixtures("isolated_tracking")
def test_serve_refuses_a_folder_no_registry_vouches_for(tmp_path) -> None:  # type: ignore[no-untyped-def]
    planted = tmp_path / "model"
    planted.mkdir()
    (planted / "model.pkl").write_bytes(b"not a model")
    result = CliRunner().invoke(app, ["serve", "--model-uri", str(planted)])
    assert result.exit_code == 2
    assert output_has(result, f"cannot load {planted}: refused")
    assert output_has(result, "python -m tenfold export-model")
