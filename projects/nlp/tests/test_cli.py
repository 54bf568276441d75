"""The CLI as a user meets it: clear one-line errors, custom CSVs kept apart, batch
prediction from the registry."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from nlp.__main__ import app
from nlp.data import make_synthetic
from tenfold.testing import assert_predict_guards_its_files, output_has

runner = CliRunner()
SMALL = ["--model", "tfidf", "--trials", "2", "--cv-folds", "3"]


def test_unknown_model_is_one_clear_line() -> None:
    result = runner.invoke(app, ["train", "--model", "bert"])
    assert result.exit_code == 2
    assert output_has(result, "--model: unknown model(s) ['bert']")
    assert "Traceback" not in result.output


@pytest.mark.usefixtures("offline", "isolated_tracking")
def test_require_real_data_refuses_the_synthetic_corpus() -> None:
    result = runner.invoke(app, ["train", "--require-real-data", *SMALL])
    assert result.exit_code == 2
    assert output_has(result, "refusing to train on the synthetic corpus")


@pytest.mark.usefixtures("offline", "isolated_tracking")
def test_serve_without_a_model_says_what_to_do() -> None:
    result = runner.invoke(app, ["serve", "--serve-model", "tfidf"])
    assert result.exit_code == 2
    assert output_has(result, "cannot load models:/nlp@tfidf")
    assert output_has(result, "make nlp")


@pytest.mark.usefixtures("offline", "isolated_tracking")
def test_custom_csv_run_then_predict(tmp_path: Path) -> None:
    """`run --data` on a user's CSV (other column names) reports to custom/<stem> and
    registers its own model; `predict` labels a file with it."""
    corpus = make_synthetic(240, seed=1).rename(columns={"text": "body", "category": "topic"})
    corpus.to_csv(tmp_path / "mine.csv", index=False)
    reports = tmp_path / "reports"
    result = runner.invoke(
        app,
        [
            "run", "--data", str(tmp_path / "mine.csv"), "--text-column", "body",
            "--label-column", "topic", "--reports-dir", str(reports), *SMALL,
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (reports / "custom" / "mine" / "metrics.json").is_file()
    assert (reports / "custom" / "mine" / "confusion_matrix.png").is_file()
    assert not (reports / "metrics.json").exists()

    articles = pd.DataFrame(
        {"id": ["s", "t"], "text": ["The team won the cup final", "Broadband software users"]}
    )
    articles.to_csv(tmp_path / "in.csv", index=False)
    predicted = runner.invoke(
        app,
        [
            "predict", "--input", str(tmp_path / "in.csv"), "--output", str(tmp_path / "out.csv"),
            "--model-uri", "models:/nlp-mine@champion",
        ],
    )  # fmt: skip
    assert predicted.exit_code == 0, predicted.output
    out = pd.read_csv(tmp_path / "out.csv")
    assert out["id"].tolist() == ["s", "t"]
    assert out["label"].tolist() == ["sport", "tech"]
    probabilities = out[[c for c in out.columns if c.startswith("p_")]]
    assert probabilities.sum(axis=1).round(2).tolist() == [1.0, 1.0]

    pd.DataFrame({"body": ["x"]}).to_csv(tmp_path / "bad.csv", index=False)
    bad = runner.invoke(
        app,
        [
            "predict", "--input", str(tmp_path / "bad.csv"), "--output", str(tmp_path / "o.csv"),
            "--model-uri", "models:/nlp-mine@champion",
        ],
    )  # fmt: skip
    assert bad.exit_code == 2
    assert output_has(bad, "text")
    assert "Traceback" not in bad.output


def test_registered_names_keep_the_published_champion_apart(tmp_path: Path) -> None:
    from nlp.config import NlpConfig
    from tenfold.data import DataSource

    real = DataSource(dataset="text-classification", kind="real", origin="cache")
    corpus = DataSource(dataset="text-classification", kind="synthetic", origin="synthetic")
    assert NlpConfig().registered_model_name(real) == "nlp"
    assert NlpConfig().registered_model_name(corpus) == "nlp-synthetic"
    assert NlpConfig(data_path=tmp_path / "mine.csv").registered_model_name(real) == "nlp-mine"


def test_predict_guards_its_files(tmp_path: Path) -> None:
    """Output = input (however spelt), a directory, a header-only input: one line, exit
    code 2, the input untouched (issue 8 §3)."""
    assert_predict_guards_its_files(app, tmp_path)
