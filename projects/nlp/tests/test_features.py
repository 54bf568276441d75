"""The text steps: cleaning, near-duplicate groups, TF-IDF token contributions, the
weights check and the embedding cache (no torch needed for any of these)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nlp.features import (
    ArticleText,
    EmbeddingCache,
    TokenExplainer,
    WeightsError,
    clean_text,
    near_duplicate_groups,
    texts_of,
    verified_weights,
)


def test_clean_text_normalises_layout_and_unicode() -> None:
    assert clean_text("  Pro\ufb01ts  up\n\n\tby １０%  ") == "Profits up by 10%"


def test_article_text_reads_frames_series_and_strings() -> None:
    frame = pd.DataFrame({"text": ["a  b", None], "other": [1, 2]})
    assert ArticleText().fit(frame).transform(frame) == ["a b", ""]
    assert texts_of("one article") == ["one article"]
    with pytest.raises(ValueError, match="'text' column"):
        texts_of(pd.DataFrame({"body": ["x"]}))


def test_near_duplicates_share_a_group() -> None:
    texts = [
        "Blair wins vote\n\nThe Prime Minister won.",
        "blair wins vote -- the prime minister won!",  # same words, other layout
        "Blair loses vote\n\nThe Prime Minister lost.",
    ]
    groups = near_duplicate_groups(texts)
    assert groups[0] == groups[1]
    assert groups[0] != groups[2]


def test_token_contributions_add_up_to_the_decision(tfidf_model) -> None:  # type: ignore[no-untyped-def]
    """Σ tf-idf × coefficient + intercept is the model's own decision function, so the
    listed tokens are exactly what moved the score."""
    pipeline, data = tfidf_model
    explainer = TokenExplainer(pipeline)
    features = pipeline[:-1].transform(data.X_test.head(5))
    model = pipeline.named_steps["model"]
    decision = model.decision_function(features)
    for row in range(5):
        for k, name in enumerate(explainer.classes):
            _, contrib = explainer.contributions(features, row, name)
            assert contrib.sum() + model.intercept_[k] == pytest.approx(decision[row, k])
        # toward the winner against the runner-up: the margin between the two scores
        first, second = np.argsort(-decision[row])[:2]
        _, margin = explainer.contributions(
            features, row, explainer.classes[first], explainer.classes[second]
        )
        expected = decision[row, first] - decision[row, second]
        intercepts = model.intercept_[first] - model.intercept_[second]
        assert margin.sum() + intercepts == pytest.approx(expected)


def test_top_tokens_are_words_of_the_document(tfidf_model) -> None:  # type: ignore[no-untyped-def]
    pipeline, _ = tfidf_model
    explainer = TokenExplainer(pipeline)
    text = "The striker scored a goal and the team won the match"
    features = pipeline[:-1].transform([text])
    top = explainer.top(features, 0, "sport", k=4, kind="word")
    assert 0 < len(top) <= 4
    assert all(t.kind == "word" and t.weight > 0 for t in top)
    words = set(clean_text(text).lower().split())
    assert all(set(t.token.split()) <= words for t in top)
    assert [t.weight for t in top] == sorted((t.weight for t in top), reverse=True)


def _weights_folder(tmp_path: Path, payload: bytes, module: str) -> Path:
    tmp_path.mkdir(parents=True)
    (tmp_path / "model.safetensors").write_bytes(payload)
    modules = [{"idx": 0, "name": "0", "path": "", "type": module}]
    (tmp_path / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
    return tmp_path


def test_weights_are_verified_before_use(tmp_path: Path) -> None:
    good = _weights_folder(tmp_path / "a", b"weights", "sentence_transformers.models.Transformer")
    expected = hashlib.sha256(b"weights").hexdigest()
    assert verified_weights(good, expected) == expected
    with pytest.raises(WeightsError, match="refusing to load"):
        verified_weights(good, "0" * 64)
    foreign = _weights_folder(tmp_path / "b", b"weights", "evil.module.Model")
    with pytest.raises(WeightsError, match="outside sentence-transformers"):
        verified_weights(foreign, expected)
    with pytest.raises(WeightsError, match="missing"):
        verified_weights(tmp_path / "nowhere", expected)


def test_embedding_cache_persists_by_weights_and_length(tmp_path: Path) -> None:
    first = EmbeddingCache(tmp_path)
    vector = np.arange(4, dtype=np.float32)
    first.put(("w1", 128, "t1"), vector)
    first.put(("w2", 128, "t1"), vector + 1)
    saved = first.save("w1", 128)
    assert saved is not None
    assert saved.is_file()
    again = EmbeddingCache(tmp_path)
    np.testing.assert_array_equal(again.get(("w1", 128, "t1")), vector)
    # other weights or another length never see these vectors
    assert again.get(("w2", 128, "t1")) is None
    assert again.get(("w1", 256, "t1")) is None
    assert EmbeddingCache(None).save("w1", 128) is None


def test_fold_tfidf_equals_refitting_the_vectorizers(corpus: pd.DataFrame, small_cfg) -> None:  # type: ignore[no-untyped-def]
    """One count for all folds gives the very matrices a per-fold TfidfVectorizer fit
    gives: vocabulary and idf from the training rows only."""
    from nlp.features import FoldTfidf, tfidf_features

    texts = ArticleText().transform(corpus)
    rows = np.arange(len(texts))
    train_rows, valid_rows = rows[rows % 3 != 0], rows[rows % 3 == 0]
    fast_train, fast_valid = FoldTfidf(small_cfg, texts).fold(train_rows, valid_rows)
    refit = tfidf_features(small_cfg).fit([texts[i] for i in train_rows])
    slow_train = refit.transform([texts[i] for i in train_rows])
    slow_valid = refit.transform([texts[i] for i in valid_rows])
    assert fast_train.shape == slow_train.shape
    assert abs(fast_train - slow_train).max() < 1e-12
    assert abs(fast_valid - slow_valid).max() < 1e-12
    # a term seen only in validation rows is not a feature
    assert fast_train.shape[1] < FoldTfidf(small_cfg, texts).fold(rows, rows[:1])[0].shape[1]
