"""Same seed, same lock → the same metrics.json bytes; a separate `evaluate` reproduces
`run`; and the committed results are what the code produces today.

The committed results come from the simulator, the project's default data (the ULB file
is not on these machines), so the check needs no data folder and always runs.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from fraud.__main__ import app
from fraud.config import PROJECT_DIR
from tenfold.testing import assert_reproduces

runner = CliRunner()
COMMITTED = PROJECT_DIR / "reports" / "metrics.json"
SMALL = ["--customers", "300"]


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def metrics_bytes(reports: Path) -> bytes:
    found = list(reports.rglob("metrics.json"))
    assert len(found) == 1, found
    return found[0].read_bytes()


@pytest.mark.slow
@pytest.mark.usefixtures("isolated_tracking", "offline")
def test_same_seed_same_bytes_and_evaluate_reproduces_run(tmp_path: Path, small_model) -> None:  # type: ignore[no-untyped-def]
    invoke("run", *SMALL, "--reports-dir", str(tmp_path / "a"))
    invoke("run", *SMALL, "--reports-dir", str(tmp_path / "b"))
    first = metrics_bytes(tmp_path / "a")
    assert first == metrics_bytes(tmp_path / "b")
    assert b'"kind": "synthetic"' in first
    # a custom population is not the published default: it goes to custom/
    assert (tmp_path / "a" / "custom" / "simulated-seed42-c300-review5" / "metrics.json").is_file()
    # `evaluate` rebuilds the latest training from MLflow and scores the same test days
    invoke("evaluate", *SMALL, "--reports-dir", str(tmp_path / "c"))
    assert metrics_bytes(tmp_path / "c") == first
    # each run registers a new version as challenger; the second scores the same as the
    # first on the test period, and equal is not better: the first stays champion
    registry = MlflowClient()
    challenger = registry.get_model_version_by_alias("fraud", "challenger")
    champion = registry.get_model_version_by_alias("fraud", "champion")
    assert (str(challenger.version), str(champion.version)) == ("2", "1")
    # batch scoring with the registered champion
    _, periods = small_model
    rows = periods.split.X_test.head(25).assign(transaction_id=[f"t{i}" for i in range(25)])
    rows.to_csv(tmp_path / "in.csv", index=False)
    out = invoke(
        "predict", "--input", str(tmp_path / "in.csv"), "--output", str(tmp_path / "o.csv")
    )
    scored = pd.read_csv(tmp_path / "o.csv")
    assert scored["transaction_id"].tolist() == [f"t{i}" for i in range(25)]
    assert scored["fraud_probability"].between(0, 1).all()
    assert scored["reason_1"].str.endswith("fraud risk").all()
    assert "scored 25 transactions" in out


@pytest.mark.repro
@pytest.mark.slow
@pytest.mark.usefixtures("isolated_tracking")
def test_committed_results_are_reproduced(tmp_path: Path) -> None:
    invoke("run", "--reports-dir", str(tmp_path / "reports"))
    assert_reproduces(metrics_bytes(tmp_path / "reports"), COMMITTED, remake="make fraud")


@pytest.mark.real_data
def test_real_ulb_file(data_dir: Path) -> None:
    """Runs wherever the ULB file has been provided or fetched (`python -m tenfold fetch
    creditcard-ulb`, then TENFOLD_DATA_DIR=data/cache)."""
    from fraud.config import ULB_PROTOCOL, FraudConfig
    from fraud.data import load

    if not (data_dir / "creditcard-ulb" / "creditcard.csv").is_file():
        pytest.skip(f"creditcard-ulb/creditcard.csv is not in {data_dir} (too large for CI)")
    cfg = FraudConfig(dataset="ulb", protocol=ULB_PROTOCOL)
    frame, source = load(cfg, data_dir=data_dir, download=False)
    assert source.kind == "real"
    assert frame.shape == (284_807, 31)
    assert int(frame["Class"].sum()) == 492
