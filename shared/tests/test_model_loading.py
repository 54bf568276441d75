"""Loading models: only what the registry vouches for is unpickled, and every failure
is one clear line (for a user: no traceback, exit code 2)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from tenfold import tracking
from tenfold.__main__ import app as tenfold_cli
from tenfold.cli import ProjectCli, ServeOption
from tenfold.testing import output_has

runner = CliRunner()


def register_toy(name: str = "toy") -> str:
    X = pd.DataFrame({"a": np.arange(10.0)})
    y = (X["a"] > 4).astype(int).to_numpy()
    with tracking.start_run("exp", "train"):
        logged = tracking.log_sklearn_model(
            LogisticRegression().fit(X, y), input_example=X, requirements=[]
        )
    return tracking.register(logged.model_uri, name)


class Planted:
    """What an attacker leaves in a folder: unpickling it runs code."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('ran')",))


@pytest.mark.usefixtures("isolated_tracking")
def test_an_exported_folder_loads_and_a_planted_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_toy()
    exported = tracking.export_model("models:/toy@champion", tmp_path / "model")
    assert exported.version == "1"
    assert len(exported.sha256) == 64
    record = tracking.load_sklearn_model(str(exported.path))
    assert (record.name, record.version) == ("toy", "1")

    monkeypatch.chdir(tmp_path)
    (exported.path / "model.pkl").write_bytes(pickle.dumps(Planted()))
    with pytest.raises(tracking.UntrustedModel, match="no registry recorded"):
        tracking.load_sklearn_model(str(exported.path))
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.usefixtures("isolated_tracking")
def test_any_folder_is_refused_with_what_to_do(tmp_path: Path) -> None:
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")
    (folder / "model.pkl").write_bytes(pickle.dumps(Planted()))
    with pytest.raises(tracking.UntrustedModel) as refused:
        tracking.load_sklearn_model(str(folder))
    message = str(refused.value)
    assert str(folder) in message
    assert "python -m tenfold export-model" in message
    assert "TENFOLD_MODEL_SHA256" in message


@pytest.mark.usefixtures("isolated_tracking")
def test_a_folder_pinned_by_its_hash_loads_without_a_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_toy()
    exported = tracking.export_model("models:/toy@champion", tmp_path / "model")
    (exported.path / "registered_model_meta").unlink()  # as if the registry were far away
    digest = tracking.folder_sha256(exported.path)
    monkeypatch.setenv("TENFOLD_MODEL_SHA256", digest)
    assert tracking.load_sklearn_model(str(exported.path)).model is not None
    monkeypatch.setenv("TENFOLD_MODEL_SHA256", "0" * 64)
    with pytest.raises(tracking.UntrustedModel, match="changed since it was exported"):
        tracking.load_sklearn_model(str(exported.path))


def test_folder_hash_covers_names_and_contents(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.bin").write_bytes(b"1")
    (tmp_path / "y.bin").write_bytes(b"2")
    first = tracking.folder_sha256(tmp_path)
    assert tracking.folder_sha256(tmp_path) == first
    (tmp_path / "y.bin").write_bytes(b"3")
    changed = tracking.folder_sha256(tmp_path)
    (tmp_path / "y.bin").rename(tmp_path / "z.bin")
    assert len({first, changed, tracking.folder_sha256(tmp_path)}) == 3


@pytest.mark.usefixtures("isolated_tracking")
def test_other_schemes_and_registries_are_refused() -> None:
    for uri in ("s3://bucket/model", "https://example.org/model", "models://other@db/toy/1"):
        with pytest.raises(tracking.UntrustedModel, match="cannot load"):
            tracking.load_sklearn_model(uri)


@pytest.mark.usefixtures("isolated_tracking")
@pytest.mark.parametrize(("damage", "why"), [("truncate", "truncated"), ("empty", "EOFError")])
def test_a_damaged_model_is_one_line(damage: str, why: str) -> None:
    register_toy()
    record = tracking.load_sklearn_model("models:/toy@champion")
    pickled = next(
        (tracking.paths.state_dir() / "artifacts").rglob("model.pkl")
    )  # the store's own copy
    data = pickled.read_bytes()
    pickled.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"")
    with pytest.raises(tracking.ModelLoadError) as failed:
        tracking.load_sklearn_model("models:/toy@champion")
    message = str(failed.value)
    assert why in message
    assert "\n" not in message
    assert record.version == "1"


@pytest.mark.usefixtures("isolated_tracking")
def test_no_registered_model_yet_says_what_to_run() -> None:
    with pytest.raises(tracking.ModelLoadError) as missing:
        tracking.load_sklearn_model("models:/churn@champion")
    assert str(missing.value) == (
        "cannot load models:/churn@champion: no churn@champion yet: run `make churn`"
    )
    register_toy("churn-synthetic")  # what an offline run registers
    with pytest.raises(tracking.ModelLoadError) as offline:
        tracking.load_sklearn_model("models:/churn@champion")
    assert "models:/churn-synthetic@champion" in str(offline.value)
    with pytest.raises(tracking.ModelLoadError, match="train and register mine first"):
        tracking.load_sklearn_model("models:/mine@champion")


@pytest.mark.usefixtures("isolated_tracking")
def test_export_model_command(tmp_path: Path) -> None:
    missing = runner.invoke(
        tenfold_cli, ["export-model", "models:/toy@champion", str(tmp_path / "first")]
    )
    assert missing.exit_code == 2
    assert output_has(missing, "no toy@champion yet")
    assert "Traceback" not in missing.output

    register_toy()
    out = tmp_path / "exported"
    digest_file = tmp_path / "model.sha256"
    result = runner.invoke(
        tenfold_cli,
        ["export-model", "models:/toy@champion", str(out), "--sha256-file", str(digest_file)],
    )
    assert result.exit_code == 0, result.output
    digest = digest_file.read_text().strip()
    assert digest == tracking.folder_sha256(out)
    assert output_has(result, f"TENFOLD_MODEL_SHA256={digest}")
    again = runner.invoke(tenfold_cli, ["export-model", "models:/toy@champion", str(out)])
    assert again.exit_code == 2
    assert output_has(again, "is not an empty folder")


# --------------------------------------------------------------------------- serve command


def serve_cli(tmp_path: Path, service: str, *options: ServeOption) -> typer.Typer:
    app = typer.Typer()
    ProjectCli(tmp_path, service=service, results_table="x:y", serve_options=options).install(app)
    return app


@pytest.mark.usefixtures("isolated_tracking")
def test_serve_without_a_model_is_one_line(tmp_path: Path) -> None:
    from tenfold.serving import ServiceSpec

    spec = ServiceSpec(
        name="toy",
        title="toy",
        load=lambda settings: tracking.load_sklearn_model(str(settings.model_uri)),
        default_model_uri="models:/toy@champion",
    )
    globals()["TOY_SPEC"] = spec
    result = runner.invoke(serve_cli(tmp_path, f"{__name__}:TOY_SPEC"), ["serve"])
    assert result.exit_code == 2
    assert output_has(result, "error: cannot load models:/toy@champion: no toy@champion yet")
    assert len(result.output.strip().splitlines()) <= 3  # one line (wrapped at 50 columns)
    assert "Traceback" not in result.output


def test_serve_options_set_the_service_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project's own serve option (nlp's --serve-model) sets a field of its settings
    class; a bad value is one line naming the option."""
    from typing import Literal

    from pydantic import Field

    from tenfold import serving
    from tenfold.serving import ModelCard, ServiceSettings, ServiceSpec

    class ToySettings(ServiceSettings):
        flavour: Literal["plain", "fancy"] = Field(default="plain")

    seen: dict[str, object] = {}

    class Loaded:
        card = ModelCard(name="toy")

    def load(settings: ToySettings) -> Loaded:
        seen.update(flavour=settings.flavour, uri=settings.model_uri)
        return Loaded()

    globals()["FLAVOURED"] = ServiceSpec(
        name="toy",
        title="toy",
        settings=ToySettings,
        load=load,
        default_model_uri="models:/toy@champion",
    )
    monkeypatch.setattr(serving.server, "run", lambda app, **kw: seen.update(run=kw))
    option = ServeOption("--flavour", "flavour", "Which flavour.")
    cli = serve_cli(tmp_path, f"{__name__}:FLAVOURED", option)
    result = runner.invoke(cli, ["serve", "--flavour", "fancy", "--port", "9001"])
    assert result.exit_code == 0, result.output
    assert seen == {
        "flavour": "fancy",
        "uri": "models:/toy@champion",
        "run": {"host": "127.0.0.1", "port": 9001},
    }
    bad = runner.invoke(cli, ["serve", "--flavour", "spicy"])
    assert bad.exit_code == 2
    assert output_has(bad, "--flavour: Input should be 'plain' or 'fancy'")
    assert output_has(runner.invoke(cli, ["serve", "--help"]), "--flavour")


@pytest.mark.usefixtures("isolated_tracking")
def test_a_running_service_picks_up_the_new_champion() -> None:
    """mlops's promise, with a real registry: the alias moves to version 2 while the
    service runs; it serves version 2 without a restart and without a failed request."""
    import time

    from fastapi.testclient import TestClient
    from pydantic import BaseModel

    from tenfold.serving import (
        ModelCard,
        ServiceSettings,
        ServiceSpec,
        card_from_record,
        create_app,
    )

    class Row(BaseModel):
        a: float

    class Answer(BaseModel):
        p: float
        version: str | None

    class Served:
        def __init__(self, record: tracking.ModelRecord) -> None:
            self.model = record.model
            self.card: ModelCard = card_from_record(record)

        def predict(self, items: list[Row]) -> list[Answer]:
            frame = pd.DataFrame([item.model_dump() for item in items])
            proba = self.model.predict_proba(frame)[:, 1]
            return [Answer(p=float(q), version=self.card.version) for q in proba]

    register_toy()
    spec = ServiceSpec(
        name="toy",
        title="toy",
        request=Row,
        response=Answer,
        load=lambda settings: Served(tracking.load_sklearn_model(str(settings.model_uri))),
        default_model_uri="models:/toy@champion",
    )
    app = create_app(spec, ServiceSettings(reload_seconds=0.2))
    with TestClient(app) as client:
        assert client.post("/v1/predict", json={"a": 1}).json()["version"] == "1"
        register_toy()  # version 2 takes the alias
        answers = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            response = client.post("/v1/predict", json={"a": 1})
            assert response.status_code == 200, response.text
            answers.append(response.json()["version"])
            if answers[-1] == "2":
                break
            time.sleep(0.05)
        assert answers[-1] == "2", "the new champion was never served"
        assert client.get("/v1/model").json()["version"] == "2"
        metrics = client.get("/metrics").text
    assert "tenfold_model_swaps_total 1.0" in metrics
    assert 'tenfold_model_info{model="toy",run_id=' in metrics
    assert 'version="2"' in metrics
    assert 'version="1"' not in metrics


def test_refuse_if_names_the_model_and_the_reason() -> None:
    from tenfold import tracking

    model = object()
    assert tracking.refuse_if(model, "models:/m/1", False, "never said") is model
    with pytest.raises(tracking.IncompatibleModel) as caught:
        tracking.refuse_if(model, "models:/m/2", True, tracking.CUSTOM_CSV.format(schema="Ames"))
    assert str(caught.value) == (
        "cannot load models:/m/2: it was trained on a custom CSV; the API serves the Ames schema"
    )
