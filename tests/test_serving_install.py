"""A serving image installs a project without its training extra (``uv sync --no-dev
--package <project>``, what docker/*.Dockerfile run): no Optuna, matplotlib or MLflow's
server, but everything loading and serving the model needs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECTS = sorted(p.parent.name for p in (ROOT / "projects").glob("*/pyproject.toml"))
# what training, tuning, plotting and the local MLflow store bring; an API never needs it
TRAINING_ONLY = {
    "optuna",
    "matplotlib",
    "mlflow",  # the full package: its server, UI and sqlite store (mlflow-skinny stays)
    "sqlalchemy",
    "alembic",
    "flask",
    "gunicorn",
    "shap",
    "streamlit",
    "pooch",
}
# what each project's logged model unpickles into, beside scikit-learn
MODEL_NEEDS = {
    "churn": {"xgboost"},
    "housing": {"lightgbm", "mapie"},
    "fraud": {"lightgbm", "imbalanced-learn"},
    "nlp": set(),
    "retraining": {"lightgbm", "imbalanced-learn"},  # its champion is a fraud model
    "recsys": {"redis"},  # the API's store; the model itself is numpy arrays
    "anomaly": {"pyod"},
    "automl-bench": set(),  # it serves published results: JSON, no model to unpickle
    "forecasting": {"lightgbm", "mlforecast", "holidays"},
}
# what a project's API itself needs from that list: mlops logs every prediction to its
# database through SQLAlchemy, the schema managed by Alembic migrations
SERVICE_NEEDS = {"mlops": {"sqlalchemy", "alembic"}}
# training-only packages a model's own library declares as hard dependencies without
# importing them to serve: PyOD requires matplotlib (for its plotting helpers), which the
# anomaly API never imports (test_serving_environment_imports_the_api checks it);
# mlforecast requires Optuna (for mlforecast.auto only), which brings Alembic and
# SQLAlchemy: the forecasting API never imports them (forecasting's tests unpickle a
# champion in a fresh process and forecast)
DECLARED_BY_MODEL = {
    "anomaly": {"matplotlib"},
    "forecasting": {"optuna", "alembic", "sqlalchemy"},
}


def uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".tools" / "uv" / "bin" / "uv")
    assert Path(found).is_file(), "uv not found: run `make setup` (it bootstraps uv)"
    return found


def serving_packages(project: str) -> set[str]:
    exported = subprocess.run(
        [uv(), "export", "--frozen", "--no-dev", "--package", project, "--no-hashes"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line.split("==")[0].strip() for line in exported.splitlines() if "==" in line}


@pytest.mark.parametrize("project", PROJECTS)
def test_serving_install_has_no_training_packages(project: str) -> None:
    packages = serving_packages(project)
    own = SERVICE_NEEDS.get(project, set())
    extra = packages & (TRAINING_ONLY - own - DECLARED_BY_MODEL.get(project, set()))
    assert not extra, f"{project}: {sorted(extra)}"
    needed = {"mlflow-skinny", "scikit-learn", "fastapi", "uvicorn"}
    assert needed | MODEL_NEEDS.get(project, set()) | own <= packages


def test_developers_get_every_training_extra() -> None:
    """`make setup` (the root dev group) installs each package with its extras, so
    `make <project>` works from a fresh clone."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    dev = {
        found["name"]: set(found["extras"].split(","))
        for entry in root["dependency-groups"]["dev"]
        if (found := re.fullmatch(r"(?P<name>[\w-]+)\[(?P<extras>[\w,-]+)\]", entry))
    }
    for project in PROJECTS:
        meta = tomllib.loads(
            (ROOT / "projects" / project / "pyproject.toml").read_text(encoding="utf-8")
        )["project"]
        # every extra but nlp's opt-in torch stack (`make nlp-deep`)
        extras = set(meta.get("optional-dependencies", {})) - {"deep"}
        assert dev.get(project) == extras, f"dev group: {project}{sorted(extras)} expected"
    library = tomllib.loads((ROOT / "shared" / "pyproject.toml").read_text(encoding="utf-8"))
    # the library's every extra: training, and the lake/drift/flows pieces pipelines use
    assert dev.get("tenfold") == set(library["project"]["optional-dependencies"])


def test_dockerfiles_install_without_the_dev_group() -> None:
    for project in PROJECTS:
        dockerfile = (ROOT / "docker" / f"{project}.Dockerfile").read_text(encoding="utf-8")
        syncs = [line for line in dockerfile.splitlines() if "uv sync" in line]
        assert syncs, f"{project}.Dockerfile installs nothing with uv sync"
        runtime = [s for s in syncs if "--extra train" not in s]  # nlp's model stage trains
        assert all("--no-dev" in s and f"--package {project}" in s for s in runtime), syncs


@pytest.mark.service
@pytest.mark.parametrize("project", PROJECTS)
def test_serving_environment_imports_the_api(project: str, tmp_path: Path) -> None:
    """The serving install for real (a fresh venv from the lock, as the image builds it):
    the API module, the ASGI app and the CLI's ``serve`` import without training code."""
    venv = tmp_path / "venv"
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv)}
    subprocess.run(
        [uv(), "sync", "--frozen", "--no-dev", "--package", project, "--no-editable", "-q"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    package = project.replace("-", "_")  # automl-bench is imported as automl_bench
    heavy = sorted(
        {"optuna", "matplotlib", "sqlalchemy", "shap"} - SERVICE_NEEDS.get(project, set())
    )
    code = (
        f"import {package}.serve as s, {package}.__main__ as m, sys\n"
        "app = s.SPEC.app()\n"
        f"heavy = sorted(set({heavy!r}) & set(sys.modules))\n"
        "assert not heavy, heavy\n"
        "print(type(app).__name__)\n"
    )
    python = venv / ("Scripts" if sys.platform == "win32" else "bin") / "python"
    result = subprocess.run(
        [str(python), "-c", code],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "TENFOLD_HOME": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "FastAPI"
