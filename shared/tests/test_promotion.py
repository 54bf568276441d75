"""The promotion gate: the rule, the registry moves it makes, its audit trail, rollback."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from tenfold import promotion, tracking
from tenfold.data import DataSource
from tenfold.errors import RegistryError
from tenfold.promotion import Gate, ValidationSet, decide
from tenfold.tracking import ModelRecord
from tenfold.training import Candidate, ProjectConfig, TrainResult

VALIDATION = ValidationSet("toy test rows", "ab" * 32, 100)
AUC = Gate("roc_auc", higher_is_better=True, margin=0.01, validation_set=VALIDATION)
RMSE = Gate("rmse", higher_is_better=False, margin=0.0, validation_set=VALIDATION)


def test_a_better_challenger_is_promoted() -> None:
    decision = decide(AUC, 0.85, 0.80)
    assert decision.promote
    assert decision.improvement == pytest.approx(0.05)
    assert "0.8500 vs champion 0.8000" in decision.reason


def test_a_worse_challenger_is_not_promoted() -> None:
    assert not decide(AUC, 0.78, 0.80).promote
    assert not decide(RMSE, 0.13, 0.12).promote  # lower is better: 0.13 is worse


def test_equal_or_within_the_margin_is_not_promoted() -> None:
    assert not decide(AUC, 0.80, 0.80).promote
    assert not decide(RMSE, 0.12, 0.12).promote  # margin 0: equal is not better
    assert not decide(AUC, 0.805, 0.80).promote  # better, but by less than the margin
    assert decide(RMSE, 0.11, 0.12).promote


def test_the_first_model_is_promoted_and_a_broken_score_never_is() -> None:
    first = decide(AUC, 0.6, None)
    assert first.promote
    assert first.reason == "no champion yet"
    assert not decide(AUC, float("nan"), 0.8).promote
    assert not decide(AUC, float("nan"), None).promote


def test_validation_set_hash_follows_the_values() -> None:
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    y = np.array([0, 1, 0])
    same = ValidationSet.of("t", X, y)
    assert same == ValidationSet.of("t", X.copy(), y.copy())
    assert same.rows == 3
    assert ValidationSet.of("t", X, np.array([0, 1, 1])).sha256 != same.sha256


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class ToyConfig(ProjectConfig):
    experiment: str = "toy"
    model_name: str = "toy"
    reports_dir: Path = Path("reports")
    noise: float = 0.0


def toy_data(seed: int, n: int = 400) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = (X["a"] + 0.5 * X["b"] + rng.normal(scale=0.5, size=n) > 0).astype(int).to_numpy()
    return X, y


def train_toy(noise: float) -> TrainResult[Candidate, None]:
    """A logged training whose one model learned from labels with ``noise`` of them
    flipped: more noise, a worse model on clean validation rows."""
    X, y = toy_data(0)
    flipped = np.random.default_rng(1).random(len(y)) < noise
    model = LogisticRegression().fit(X, np.where(flipped, 1 - y, y))
    candidate = Candidate(
        name="lr",
        model=model,
        params={"C": 1.0},
        metric="roc_auc",
        fold_scores=[0.8, 0.9],
        oof=pd.DataFrame({"oof_proba": [0.25, 0.75]}),
    )
    source = DataSource(dataset="toy", kind="real", origin="cache", sha256={"toy.csv": "ef56"})
    result = TrainResult({"lr": candidate}, "lr", None, source, X.head(3))
    tracking.log_training(result, config=ToyConfig(noise=noise))
    return result


def auc_on(X: pd.DataFrame, y: np.ndarray) -> promotion.Scorer:
    def score(record: ModelRecord) -> float:
        return float(roc_auc_score(y, record.model.predict_proba(X)[:, 1]))

    return score


@pytest.mark.usefixtures("isolated_tracking")
def test_gate_promotes_keeps_audits_and_rolls_back() -> None:
    X, y = toy_data(2)
    gate = Gate("roc_auc", True, 0.001, ValidationSet.of("toy validation rows", X, y))
    score = auc_on(X, y)
    tracking.configure()
    client = MlflowClient()

    def champion() -> str:
        return str(client.get_model_version_by_alias("toy", "champion").version)

    first = promotion.register_challenger(train_toy(noise=0.35), "toy")
    decision, _ = promotion.promote_if_better("toy", first, gate, score)
    assert decision.promote
    assert decision.reason == "no champion yet"

    better = promotion.register_challenger(train_toy(noise=0.0), "toy")
    assert str(client.get_model_version_by_alias("toy", "challenger").version) == better
    decision, _ = promotion.promote_if_better("toy", better, gate, score)
    assert decision.promote
    assert champion() == better

    worse = promotion.register_challenger(train_toy(noise=0.35), "toy")
    decision, record = promotion.promote_if_better("toy", worse, gate, score)
    assert not decision.promote
    assert champion() == better
    # the champion was loaded and scored again on these rows, not read from a tag
    assert record.champion_score == pytest.approx(
        score(tracking.load_sklearn_model(f"models:/toy/{better}"))
    )
    assert record.challenger_score == pytest.approx(
        score(tracking.load_sklearn_model(f"models:/toy/{worse}"))
    )
    assert record.challenger_score < record.champion_score
    assert (record.previous_champion, record.champion) == (better, better)
    tags = client.get_model_version("toy", worse).tags
    assert tags["promotion.decision"] == "kept the champion"
    assert tags["promotion.validation_sha256"] == gate.validation_set.sha256

    # the same fit again scores the same: equal is not better
    equal = promotion.register_challenger(train_toy(noise=0.0), "toy")
    decision, _ = promotion.promote_if_better("toy", equal, gate, score)
    assert not decision.promote
    assert decision.improvement == 0.0

    audit = promotion.history("toy")
    assert [(r.action, r.version) for r in audit] == [
        ("promote", first),
        ("promote", better),
        ("keep", worse),
        ("keep", equal),
    ]
    kept = audit[2]
    assert (kept.metric, kept.validation_set, kept.validation_rows) == (
        "roc_auc",
        "toy validation rows",
        len(y),
    )
    assert kept.champion_score is not None
    assert kept.challenger_score is not None
    assert kept.champion_score > kept.challenger_score
    assert kept.validation_sha256 == gate.validation_set.sha256
    assert kept.at < audit[3].at

    rolled = promotion.rollback("toy")
    assert (rolled.previous_champion, rolled.champion) == (better, first)
    assert champion() == first
    assert promotion.history("toy")[-1].action == "rollback"
    with pytest.raises(RegistryError, match="first champion"):
        promotion.rollback("toy")


@pytest.mark.usefixtures("isolated_tracking")
def test_a_champion_that_cannot_be_scored_is_kept() -> None:
    X, y = toy_data(2)
    gate = Gate("roc_auc", True, 0.0, ValidationSet.of("rows", X, y))
    first = promotion.register_challenger(train_toy(noise=0.3), "toy")
    promotion.promote_if_better("toy", first, gate, auc_on(X, y))
    second = promotion.register_challenger(train_toy(noise=0.0), "toy")

    def fails_on_the_champion(record: ModelRecord) -> float:
        if record.version == first:
            raise KeyError("column 'c' not in the rows")
        return auc_on(X, y)(record)

    decision, record = promotion.promote_if_better("toy", second, gate, fails_on_the_champion)
    assert not decision.promote
    assert "could not be scored" in decision.reason
    assert record.champion == first


@pytest.mark.usefixtures("isolated_tracking")
def test_rollback_and_history_of_unknown_models_are_clear_errors() -> None:
    with pytest.raises(RegistryError, match="no registered model 'nope'"):
        promotion.history("nope")
    with pytest.raises(RegistryError, match="no registered model 'nope'"):
        promotion.rollback("nope")


@pytest.mark.usefixtures("isolated_tracking")
def test_audit_and_rollback_commands() -> None:
    from typer.testing import CliRunner

    from tenfold.__main__ import app
    from tenfold.testing import output_has

    X, y = toy_data(2)
    gate = Gate("roc_auc", True, 0.0, ValidationSet.of("toy rows", X, y))
    for noise in (0.35, 0.0):
        version = promotion.register_challenger(train_toy(noise=noise), "toy")
        promotion.promote_if_better("toy", version, gate, auc_on(X, y))
    runner = CliRunner()
    audit = runner.invoke(app, ["audit", "toy"])
    assert audit.exit_code == 0, audit.output
    assert output_has(audit, "no champion yet")
    assert output_has(audit, "validation set: toy rows")
    rolled = runner.invoke(app, ["rollback", "toy"])
    assert rolled.exit_code == 0, rolled.output
    assert output_has(rolled, "toy@champion: v2 → v1 (rolled back)")
    again = runner.invoke(app, ["rollback", "toy"])
    assert again.exit_code == 2
    assert output_has(again, "error: toy v1 is its first champion")
    assert output_has(runner.invoke(app, ["audit", "toy"]), "rolled back from v2 to")
    unknown = runner.invoke(app, ["audit", "nope"])
    assert unknown.exit_code == 2
    assert output_has(unknown, "no registered model 'nope'")
