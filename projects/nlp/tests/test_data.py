"""Loading: the synthetic corpus, a user's CSV, articles to classify, and assembling
bbc-text.csv from an archive of the original per-article files."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from nlp.config import NlpConfig
from nlp.data import assemble, load, make_synthetic, read_articles, read_labelled_csv
from tenfold.data import DataError

ARTICLES = {
    "bbc/tech/002.txt": "Phone sales\n\nMobile \u00a3 sales rose.\n".encode(),
    "bbc/business/001.txt": b'Ad sales boost profit\n\nProfits jumped, "the firm" said.\n',
    "bbc/tech/001.txt": "Caf\xe9 net\n\nA caf\xe9 went online.\n".encode("latin-1"),
    "bbc/README.TXT": b"not an article",
}
# what the CSV must be: category then file number, the text as in each file, one row each
EXPECTED = (
    "category,text\n"
    'business,"Ad sales boost profit\n\nProfits jumped, ""the firm"" said.\n"\n'
    'tech,"Caf\u00e9 net\n\nA caf\u00e9 went online.\n"\n'
    'tech,"Phone sales\n\nMobile \u00a3 sales rose.\n"\n'
).encode()


def test_synthetic_corpus_has_bbc_shape_and_is_seeded() -> None:
    frame = make_synthetic(200, seed=3)
    assert list(frame.columns) == ["category", "text"]
    assert set(frame["category"]) == {"business", "entertainment", "politics", "sport", "tech"}
    assert frame["text"].str.contains("\n\n").all()  # headline, blank line, body
    pd.testing.assert_frame_equal(frame, make_synthetic(200, seed=3))
    assert not frame.equals(make_synthetic(200, seed=4))


@pytest.mark.usefixtures("offline")
def test_offline_load_is_the_synthetic_corpus() -> None:
    frame, source = load(NlpConfig(synthetic_docs=120))
    assert source.kind == "synthetic"
    assert len(frame) == 120


@pytest.mark.real_data
def test_real_bbc_news(data_dir: Path) -> None:
    frame, source = load(NlpConfig())
    assert source.kind == "real"
    assert len(frame) == 2225
    assert frame["category"].value_counts().to_dict() == {
        "sport": 511, "business": 510, "politics": 417, "tech": 401, "entertainment": 386,
    }  # fmt: skip
    assert frame["text"].iloc[0].startswith("Ad sales boost Time Warner profit\n\n")


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_assemble_from_an_archive(tmp_path: Path, kind: str) -> None:
    archive = tmp_path / f"mirror.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(archive, "w") as zf:
            for name, raw in ARTICLES.items():
                zf.writestr(f"repo-abc/{name}", raw)
    else:
        with tarfile.open(archive, "w:gz") as tf:
            for name, raw in ARTICLES.items():
                info = tarfile.TarInfo(f"repo-abc/{name}")
                info.size = len(raw)
                tf.addfile(info, io.BytesIO(raw))
    target = tmp_path / "cache" / "bbc-text.csv"
    assemble(archive, target, expected_sha256=hashlib.sha256(EXPECTED).hexdigest())
    assert target.read_bytes() == EXPECTED
    with pytest.raises(DataError, match="expected 0000"):
        assemble(archive, tmp_path / "other.csv", expected_sha256="0" * 64)
    assert not (tmp_path / "other.csv").exists()


def test_a_users_csv_names_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    pd.DataFrame({"body": ["a b", "c d"], "topic": [1, 2]}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"missing column\(s\) \['text', 'category'\]"):
        read_labelled_csv(path, NlpConfig())
    cfg = NlpConfig(text_column="body", label_column="topic")
    frame, source = read_labelled_csv(path, cfg)
    assert list(frame.columns) == ["category", "text"]
    assert frame["category"].tolist() == ["1", "2"]
    assert source.origin == "user_file"


def test_articles_to_classify(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    pd.DataFrame({"id": ["x", "y"], "text": ["one", "two"]}).to_csv(path, index=False)
    assert read_articles(path).to_dict("list") == {"id": ["x", "y"], "text": ["one", "two"]}
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"body": ["one"]}).to_csv(bad, index=False)
    with pytest.raises(DataError, match="text"):
        read_articles(bad)
