"""Training on a tiny synthetic set: the candidates' serving models, their recipes, the
validation lists, and the promotion gate scoring a registered model the way evaluation
scores a candidate."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest

from recsys import evaluate as recsys_evaluate
from recsys.config import RecsysConfig
from recsys.data import Interactions
from recsys.snapshot import ServingModel, precompute_user_lists
from recsys.train import RecsysResult, train
from tenfold.tracking import IncompatibleModel, ModelRecord


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> RecsysConfig:
    from recsys.config import TrialBudget

    return RecsysConfig(
        trials=TrialBudget(als=2, bpr=1, ease=2, hybrid=4),
        use_minilm=False,
        top_n=20,
        reports_dir=tmp_path_factory.mktemp("reports"),
    )


@pytest.fixture(scope="module")
def trained(tiny: Interactions, cfg: RecsysConfig) -> RecsysResult:
    return train(cfg, tiny)


def record(model: Any) -> ModelRecord:
    return ModelRecord(model, "models:/recsys/1", "recsys", "1", None, None, {}, {})


def test_every_system_is_a_candidate_and_the_best_is_the_best_on_validation(
    trained: RecsysResult,
) -> None:
    assert list(trained.candidates) == [
        "popularity",
        "als",
        "bpr",
        "ease",
        "svd",
        "content_tfidf",
        "hybrid",
    ]
    scores = {n: c.validation["precision@10"] for n, c in trained.candidates.items()}
    assert scores[trained.best_name] == max(scores.values())
    for candidate in trained.candidates.values():
        # one P@10 per validation split; the validation figure is their mean
        assert len(candidate.fold_scores) == 3
        assert np.mean(candidate.fold_scores) == pytest.approx(candidate.validation["precision@10"])
        assert candidate.metric == "precision_at_10"
        assert candidate.metadata["family"] == candidate.family


def test_a_serving_model_is_its_recipe_refitted_on_every_interaction(
    trained: RecsysResult, tiny: Interactions
) -> None:
    """The precomputed lists are what the unfitted recipe gives once fitted on all
    interactions: the recipe really is the system that was tuned (and stays unfitted)."""
    prepared = trained.data.prepared
    everything = prepared.matrix(tiny.ratings)
    for name in ("als", "hybrid", "content_tfidf"):
        model = trained.candidates[name].model
        assert isinstance(model, ServingModel)
        assert model.system == name
        refit = model.fresh().fit(everything, tiny.ratings)
        top, _ = precompute_user_lists(refit, everything, model.top_n)
        np.testing.assert_array_equal(top, model.snapshot.user_top, err_msg=name)
        assert not [k for k in vars(model.recipe) if k.endswith("_") and k != "name"], name


def test_validation_lists_exclude_what_the_fit_part_holds(trained: RecsysResult) -> None:
    valid = trained.data.validation
    seen = set(zip(valid.train["user"], valid.train["item"], strict=True))
    lists = trained.best.oof
    assert set(lists.columns) == {"user", "rank", "item"}
    assert lists.groupby("user")["rank"].max().max() <= 10
    assert not {(u, i) for u, i in zip(lists["user"], lists["item"], strict=True)} & seen
    # nothing of the benchmark split's test part was used to fit or pick
    test = set(zip(trained.data.split.test["user"], trained.data.split.test["item"], strict=True))
    assert not test & seen


def test_the_gate_scores_a_registered_model_as_evaluation_scores_its_candidate(
    trained: RecsysResult, cfg: RecsysConfig
) -> None:
    evaluation = recsys_evaluate.evaluate(trained, cfg)
    gate, score = recsys_evaluate.promotion_gate(trained, cfg)
    assert gate.metric == "test P@10"
    assert gate.higher_is_better
    assert gate.validation_set.rows == len(trained.data.split.test)
    for name in (trained.best_name, "popularity"):
        expected = evaluation.metrics["models"][name]["test"]["precision@10"]
        assert score(record(trained.candidates[name].model)) == pytest.approx(expected)
    with pytest.raises(IncompatibleModel, match="not a recsys serving model"):
        score(record(pd.DataFrame()))


def test_another_seed_is_another_validation_set(trained: RecsysResult, cfg: RecsysConfig) -> None:
    """The gate's rows are named and hashed: a gate on another split is told apart."""
    gate, _ = recsys_evaluate.promotion_gate(trained, cfg)
    other, _ = recsys_evaluate.promotion_gate(
        replace(trained, data=replace(trained.data, split=trained.data.validation)), cfg
    )
    assert gate.validation_set.sha256 != other.validation_set.sha256


def test_als_regularization_is_searched_per_unit_of_alpha() -> None:
    """A trial's (alpha, reg_per_alpha) becomes the model's ridge alpha × ratio, and the
    best trial maps to the same model parameters as the trial did."""
    from recsys.train import SEARCH_SPACES, _fixed

    trial = optuna.trial.FixedTrial({"factors": 64, "alpha": 5.0, "reg_per_alpha": 8.0})
    params = SEARCH_SPACES["als"](trial)
    assert params == {"factors": 64, "alpha": 5.0, "regularization": 40.0, "iterations": 15}
    assert _fixed({"factors": 64, "alpha": 5.0, "reg_per_alpha": 8.0}, "als") == params
    assert _fixed({"lamb": 300.0, "positive_only": True}, "ease") == {
        "lamb": 300.0,
        "positive_only": True,
    }


def test_tuning_averages_distinct_validation_splits_of_the_training_part(
    trained: RecsysResult, cfg: RecsysConfig
) -> None:
    from recsys.splits import validation_split
    from recsys.train import validation_views

    views = validation_views(trained.data.prepared, trained.data.split.train, cfg)
    assert len(views) == cfg.validation_splits == 3
    # the first is the recorded validation split (seed 42); the others differ from it
    first = validation_split(trained.data.split.train, ratio=cfg.validation_ratio, seed=42)
    pd.testing.assert_frame_equal(views[0].split.test, first.test)
    pd.testing.assert_frame_equal(trained.data.validation.test, first.test)
    tests = [set(zip(v.split.test["user"], v.split.test["item"], strict=True)) for v in views]
    assert len({frozenset(t) for t in tests}) == 3
    # all within the training part: nothing of the test part is fitted or scored
    benchmark_test = set(
        zip(trained.data.split.test["user"], trained.data.split.test["item"], strict=True)
    )
    assert not set().union(*tests) & benchmark_test


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"validation_splits": 0}, "validation_splits"),
        ({"train_ratio": 1.0}, "train_ratio"),
        ({"validation_ratio": 0.0}, "validation_ratio"),
        ({"k": 20, "top_n": 10}, "top_n"),
    ],
)
def test_config_rejects_an_impossible_protocol(change: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        RecsysConfig(**change)
