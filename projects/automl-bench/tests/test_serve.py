"""The results API on a publication whose answers are known by hand (the hand grid:
'manual' best everywhere, 'lightgbm' second, the constant last), built by the serving
factory as ``serve`` builds it."""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from automl_bench import results, serve
from automl_bench.config import FRAMEWORKS
from tenfold.serving import create_app


@pytest.fixture
def client(publication_dir: Path) -> Iterator[TestClient]:
    publication = results.load(str(publication_dir))
    with TestClient(create_app(serve.SPEC, predictor=publication)) as test_client:
        yield test_client


def test_the_leaderboard_ranks_the_frameworks(client: TestClient) -> None:
    body = client.get("/v1/leaderboard").json()
    assert body["profile"] == "t"
    board = body["frameworks"]
    assert [r["framework"] for r in board] == ["manual", "lightgbm", "constant"]
    assert [r["mean_rank"] for r in board] == [1.0, 2.0, 3.0]
    assert board[0]["wins"] == 4
    assert board[2]["mean_normalised"] == 0.0
    assert body["friedman_p_value"] < 0.05
    assert client.get("/v1/profiles/t/leaderboard").json() == body


def test_a_dataset_lists_each_framework_by_rank(client: TestClient) -> None:
    rows = client.get("/v1/profiles/t/datasets/r").json()
    assert [(r["framework"], r["rank"], r["mean"]) for r in rows] == [
        ("manual", 1.0, 5.0),
        ("lightgbm", 2.0, 8.0),
        ("constant", 3.0, 10.0),
    ]
    assert rows[0]["metric"] == "rmse"
    assert rows[0]["greater_is_better"] is False
    assert rows[1]["normalised"] == pytest.approx(0.4)


def test_cells_are_the_folds_behind_a_score(client: TestClient) -> None:
    rows = client.get("/v1/profiles/t/datasets/a/cells", params={"framework": "lightgbm"}).json()
    assert [(r["fold"], r["score"], r["status"]) for r in rows] == [(0, 0.7, "ok"), (1, 0.7, "ok")]


def test_profiles_summarise_what_is_published(client: TestClient) -> None:
    (summary,) = client.get("/v1/profiles").json()
    assert summary["profile"] == "t"
    assert summary["cells"] == 24
    assert summary["datasets"] == ["a", "b", "c", "r"]
    assert summary["complete"] is True
    assert client.get("/v1/profiles/t/failures").json() == []


def test_what_is_not_published_is_a_404_naming_what_is(client: TestClient) -> None:
    answer = client.get("/v1/profiles/full/leaderboard")
    assert answer.status_code == 404
    assert answer.json()["detail"] == "profile 'full' is not published; published: t"
    answer = client.get("/v1/profiles/t/datasets/telco")
    assert answer.status_code == 404
    assert "published: a, b, c, r" in answer.json()["detail"]
    answer = client.get("/v1/profiles/t/datasets/a", params={"framework": "flaml"})
    assert answer.status_code == 404
    assert "framework 'flaml' is not in the t results" in answer.json()["detail"]
    assert client.get("/v1/profiles/t/telco").status_code == 404


def test_an_unknown_framework_is_a_422_on_the_field(client: TestClient) -> None:
    answer = client.get("/v1/profiles/t/datasets/a", params={"framework": "h2o"})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == "framework"


def test_the_card_says_which_results_are_served(client: TestClient) -> None:
    card = client.get("/v1/model").json()
    assert card["details"] == {"profiles": ["t"], "cells": 24, "data": "real"}
    assert card["metrics"]["t.manual.mean_rank"] == 1.0
    assert client.get("/ready").json()["status"] == "ready"


def test_the_schema_lists_the_benchmark_frameworks() -> None:
    assert set(typing.get_args(serve.Framework)) == set(FRAMEWORKS)


def test_the_committed_results_are_served() -> None:
    """The folder the API image bakes: the published leaderboard, as REPORT.md shows it."""
    from automl_bench.config import PROJECT_DIR

    publication = results.load(str(PROJECT_DIR / "reports"))
    with TestClient(create_app(serve.SPEC, predictor=publication)) as test_client:
        profiles = [p["profile"] for p in test_client.get("/v1/profiles").json()]
        board = test_client.get("/v1/profiles/quick/leaderboard").json()["frameworks"]
        telco = test_client.get("/v1/profiles/quick/telco").json()
    document = json.loads((PROJECT_DIR / "reports" / "quick" / "metrics.json").read_text())
    assert profiles[0] == "quick"
    assert [r["framework"] for r in board] == [r["framework"] for r in document["leaderboard"]]
    assert telco["churn_published_roc_auc"] == 0.848


def test_a_folder_that_is_not_a_publication_is_one_line(tmp_path: Path) -> None:
    from tenfold.errors import DataError

    with pytest.raises(DataError, match=r"holds no metrics\.json"):
        results.load(str(tmp_path))
    with pytest.raises(DataError, match="no such folder"):
        results.load(str(tmp_path / "missing"))
    with pytest.raises(DataError, match="serve models:/<name>@<alias>"):
        results.load("s3://bucket/results")
