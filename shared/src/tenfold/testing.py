"""Helpers for the projects' tests (imported by tests only, never by library code)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenfold.services import (  # re-exported: tests start the same services
    PostgresServer as PostgresServer,
)
from tenfold.services import postgres as postgres
from tenfold.services import postgres_available as postgres_available
from tenfold.services import redis_server as redis_server


@dataclass(frozen=True)
class S3Server:
    """A moto S3 server on loopback: its endpoint and the environment an AWS client
    (boto3, s3fs) needs to use it, region eu-west-1 (with us-east-1 creating a bucket
    fails on the location constraint)."""

    endpoint: str
    region: str = "eu-west-1"

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def create_bucket(self, name: str) -> None:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.region}
        )


@contextmanager
def moto_s3(timeout: float = 60.0) -> Iterator[S3Server]:
    """``moto_server`` (from ``moto[server]``) on 127.0.0.1 and a free port for the
    block: started as a process, waited for, stopped by its process id."""
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    from tenfold.benchmark import free_port

    port = free_port()
    binary = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "false"},
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start on {endpoint}") from None
                time.sleep(0.3)
        yield S3Server(endpoint)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# whitespace and the box-drawing characters of rich's error panels: where a narrow
# terminal breaks a line, these are all that gets inserted
_WRAPPING = re.compile(r"[\s\u2500-\u257f]+")


def unwrapped(text: str) -> str:
    """``text`` with every whitespace run and box-drawing character removed, so a phrase
    can be found however rich wrapped it (terminal width, temp-path length, TTY or not)."""
    return _WRAPPING.sub("", text)


def output_has(result: Any, phrase: str) -> bool:
    """Whether a CLI result's output holds ``phrase``, independent of line wrapping."""
    return unwrapped(phrase) in unwrapped(str(result.output))


def check_reason_codes(codes: Sequence[Mapping[str, Any]], *, k: int, outcome: str) -> None:
    """Assert what every API's reason codes promise (see :func:`tenfold.serving.reason_codes`):
    ``k`` of them, the largest |contribution| first, a direction matching the sign, and a
    sentence ending in ``outcome``."""
    assert len(codes) == k, f"expected {k} reason codes, got {len(codes)}"
    magnitudes = [abs(c["contribution"]) for c in codes]
    assert magnitudes == sorted(magnitudes, reverse=True), f"not by magnitude: {magnitudes}"
    for code in codes:
        sign = "increases" if code["contribution"] > 0 else "decreases"
        assert code["direction"] == sign, f"direction does not match the sign: {code}"
        assert str(code["readable"]).endswith(outcome), f"unexpected wording: {code['readable']}"


def run_metrics(app: Any, reports: Path, *args: str) -> bytes:
    """``<project> run --reports-dir reports *args`` in-process (Typer's runner); the bytes
    of the one ``metrics.json`` it wrote, wherever below ``reports`` the run put it."""
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["run", "--reports-dir", str(reports), *args])
    assert result.exit_code == 0, result.output
    found = list(reports.rglob("metrics.json"))
    assert len(found) == 1, f"expected one metrics.json below {reports}, found {found}"
    return found[0].read_bytes()


def assert_reproduces(produced: bytes, committed: Path, *, remake: str) -> None:
    """The reproducibility check every project runs: a re-trained ``metrics.json`` must
    be byte-identical to the committed one. On failure the message shows the lines that
    changed and how to publish new results on purpose (``remake``)."""
    _same_bytes(produced, committed.read_bytes(), str(committed), remake=remake)


def assert_reproduces_sample(sample: Mapping[str, Any], committed: Path, *, remake: str) -> None:
    """The reproducibility check of a run too long to repeat in CI: a part of it
    re-computed by the same code (a few backtest origins, one benchmark cell) must equal
    the same part of the committed ``metrics.json``, byte for byte through the metrics
    writer.

    ``sample`` has the committed file's shape, cut down to what was re-computed, e.g.
    ``{"backtest": {"origins": {"2024-03-04": {...}}}}``: nested mappings are matched key
    by key, anything else (numbers, lists) is compared whole.
    """
    from tenfold.repro import format_metrics, read_metrics

    expected = _cut_like(read_metrics(committed), sample, committed.name)
    _same_bytes(
        format_metrics(sample).encode(),
        format_metrics(expected).encode(),
        f"the re-computed sample of {committed}",
        remake=remake,
    )


def _cut_like(committed: Mapping[str, Any], sample: Mapping[str, Any], where: str) -> Any:
    """``committed`` restricted to the keys of ``sample`` (recursively, for mappings)."""
    cut: dict[str, Any] = {}
    for key, value in sample.items():
        if key not in committed:
            raise AssertionError(f"{where}: the committed results have no {key!r}")
        if isinstance(value, Mapping) and isinstance(committed[key], Mapping):
            cut[key] = _cut_like(committed[key], value, f"{where}.{key}")
        else:
            cut[key] = committed[key]
    return cut


def _same_bytes(produced: bytes, expected: bytes, what: str, *, remake: str) -> None:
    import difflib

    if produced == expected:
        return
    changed = "\n".join(
        difflib.unified_diff(
            expected.decode("utf-8", "replace").splitlines(),
            produced.decode("utf-8", "replace").splitlines(),
            "committed",
            "re-trained",
            lineterm="",
            n=1,
        )
    )
    raise AssertionError(
        f"re-training with the default config no longer gives {what}; "
        f"if the change is intended, run `{remake}` and commit the new results.\n"
        f"{changed[:6000]}"
    )


# --------------------------------------------------------------------------- estimator checks

_NEEDS_FRAME = "takes a DataFrame (columns by name); check_frame_transformer checks it"
# The checks of `parametrize_with_checks` that feed a NumPy array to fit. A
# FrameTransformer refuses one by design, with a clear TypeError, so these cannot apply;
# check_frame_transformer checks what they check (fit returns self, parameters and input
# untouched, idempotent, picklable, row order and subset invariance, n_features_in_,
# empty data) on a DataFrame instead. Run with xfail_strict=True, so the list stays exact.
FRAME_ONLY_CHECKS: dict[str, str] = dict.fromkeys(
    (
        "check_complex_data",
        "check_dict_unchanged",
        "check_dont_overwrite_parameters",
        "check_dtype_object",
        "check_estimators_dtypes",
        "check_estimators_empty_data_messages",
        "check_estimators_fit_returns_self",
        "check_estimators_overwrite_params",
        "check_estimators_pickle",
        "check_f_contiguous_array_estimator",
        "check_fit1d",
        "check_fit2d_1feature",
        "check_fit2d_1sample",
        "check_fit2d_predict1d",
        "check_fit_check_is_fitted",
        "check_fit_idempotent",
        "check_fit_score_takes_y",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_n_features_in",
        "check_n_features_in_after_fitting",
        "check_pipeline_consistency",
        "check_positive_only_tag_during_fit",
        "check_readonly_memmap_input",
        "check_transformer_data_not_an_array",
        "check_transformer_general",
        "check_transformer_preserve_dtypes",
    ),
    _NEEDS_FRAME,
)


def expected_failed_checks(estimator: Any) -> dict[str, str]:
    """For ``parametrize_with_checks(expected_failed_checks=...)``: the checks that
    cannot apply to ``estimator``, each with its reason (none for a NumPy estimator)."""
    from tenfold.pipelines import FrameTransformer

    return dict(FRAME_ONLY_CHECKS) if isinstance(estimator, FrameTransformer) else {}


def check_frame_transformer(
    transformer: Any, frame: Any, y: Any = None, *, validates_input: bool = True
) -> None:
    """scikit-learn's estimator rules for a transformer that takes a DataFrame (or texts,
    as a DataFrame or Series), on ``frame``: what ``parametrize_with_checks`` checks on
    NumPy arrays.

    ``fit`` returns ``self`` and changes neither its input nor the parameters, and sets
    no public attribute without a trailing underscore; ``transform`` before ``fit`` raises
    ``NotFittedError`` (when the step needs fitting) and changes no fitted state; a clone
    refitted, a second fit, ``fit_transform``, the step inside a Pipeline and a pickled
    copy all give the same output; shuffled rows give the same rows shuffled, and rows one
    at a time (the serving path) the same rows as the batch. With ``validates_input``:
    ``n_features_in_`` / ``feature_names_in_`` / ``get_feature_names_out`` match the
    columns, and a NumPy array, an empty frame or a missing column fail with a clear error.
    """
    import pickle

    import joblib
    import numpy as np
    import pandas as pd
    import pytest
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError
    from sklearn.pipeline import make_pipeline
    from sklearn.utils import get_tags

    name = type(transformer).__name__
    before = frame.copy(deep=True)
    params = joblib.hash(transformer.get_params(deep=False))
    step = clone(transformer)
    if get_tags(step).requires_fit:
        with pytest.raises(NotFittedError):
            step.transform(frame)
    assert step.fit(frame, y) is step, f"{name}.fit must return self"

    def unchanged(after: str) -> None:
        check = pd.testing.assert_series_equal
        if isinstance(frame, pd.DataFrame):
            check = pd.testing.assert_frame_equal  # type: ignore[assignment]
        check(frame, before, obj=f"the input after {name}.{after}")

    unchanged("fit")
    assert joblib.hash(step.get_params(deep=False)) == params, f"{name}.fit changed a parameter"
    set_in_fit = [
        k
        for k in vars(step)
        if not k.startswith("_") and not k.endswith("_") and k not in step.get_params()
    ]
    assert not set_in_fit, f"{name}.fit set public attributes without a trailing _: {set_in_fit}"

    state = joblib.hash(vars(step))
    out = step.transform(frame)
    assert joblib.hash(vars(step)) == state, f"{name}.transform changed the fitted state"
    unchanged("transform")

    def same(got: Any, expected: Any, what: str) -> None:
        if isinstance(expected, pd.DataFrame):
            pd.testing.assert_frame_equal(got, expected, check_exact=False, obj=what)
        elif isinstance(expected, np.ndarray):
            # float32 outputs (embeddings) differ in the last bits with the batch's padding
            single = expected.dtype == np.float32
            rtol, atol = (1e-4, 1e-6) if single else (1e-7, 1e-9)
            np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=what)
        else:
            assert list(got) == list(expected), what

    def rows(values: Any, positions: Any) -> Any:
        if isinstance(values, pd.DataFrame):
            return values.iloc[positions]
        if isinstance(values, np.ndarray):
            return values[positions]
        return [values[i] for i in positions]

    def stacked(parts: list[Any]) -> Any:
        if isinstance(parts[0], pd.DataFrame):
            return pd.concat(parts)
        if isinstance(parts[0], np.ndarray):
            return np.vstack(parts)
        return [v for part in parts for v in part]

    same(clone(transformer).fit(frame, y).transform(frame), out, f"{name}: a clone refitted")
    same(step.fit(frame, y).transform(frame), out, f"{name}: a second fit")
    same(clone(transformer).fit_transform(frame, y), out, f"{name}: fit_transform")
    same(make_pipeline(clone(transformer)).fit(frame, y).transform(frame), out, "in a Pipeline")
    same(pickle.loads(pickle.dumps(step)).transform(frame), out, f"{name}: a pickled copy")
    order = np.random.default_rng(0).permutation(len(frame))
    same(step.transform(frame.iloc[order]), rows(out, order), f"{name}: shuffled rows")
    first = range(min(len(frame), 10))
    one_by_one = stacked([step.transform(frame.iloc[[i]]) for i in first])
    same(one_by_one, rows(out, list(first)), f"{name}: rows one at a time")

    if not validates_input:
        return
    assert step.n_features_in_ == frame.shape[1]
    assert list(step.feature_names_in_) == list(frame.columns)
    names = list(step.get_feature_names_out())
    width = out.shape[1]
    assert len(names) == width, f"{name}: {len(names)} names for {width} output columns"
    if isinstance(out, pd.DataFrame):
        assert names == list(out.columns), f"{name}: get_feature_names_out ≠ the output columns"
    with pytest.raises(TypeError, match="DataFrame"):
        clone(transformer).fit(frame.to_numpy(), y)
    with pytest.raises(ValueError, match="0 sample"):
        clone(transformer).fit(frame.iloc[:0], y if y is None else y[:0])
    required = list(step._required()) if hasattr(step, "_required") else []
    if required:
        with pytest.raises(ValueError, match=re.escape(repr(required[0]))):
            clone(transformer).fit(frame.drop(columns=required[0]), y)


def assert_predict_guards_its_files(app: Any, folder: Path, *options: str) -> None:
    """What every project's ``predict`` refuses before it loads a model, each with one
    line and exit code 2, never a traceback: an output that is the input (by another
    spelling: relative, through a symlink), a directory, and an input without rows."""
    import os

    from typer.testing import CliRunner

    runner = CliRunner()
    source = folder / "rows.csv"
    source.write_text("id,value\n1,2\n", encoding="utf-8")
    before = source.read_bytes()
    (folder / "alias.csv").symlink_to(source)
    header_only = folder / "header.csv"
    header_only.write_text("id,value\n", encoding="utf-8")
    out = folder / "out.csv"
    cases = [
        (source, source, "is the input file"),
        (source, Path(os.path.relpath(source)), "is the input file"),
        (source, folder / "alias.csv", "is the input file"),
        (source, folder, "is a directory"),
        (header_only, out, f"no rows to score in {header_only}"),
    ]
    for given, output, phrase in cases:
        args = ["predict", "--input", str(given), "--output", str(output), *options]
        result = runner.invoke(app, args)
        assert result.exit_code == 2, f"{args}: {result.output}"
        assert output_has(result, phrase), f"{args}: {result.output}"
        assert "Traceback" not in result.output
        assert len(unwrapped(str(result.output))) < 400, result.output  # one line
    assert source.read_bytes() == before
    assert not out.exists()
