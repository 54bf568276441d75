"""Every project is held to the same shape, so a reader who knows one knows them all:
the same stage modules exposing the same stage functions, the same CLI commands sharing
the same options, a README that is a report. Only what every kind of project can honour
(a forecaster or a recommender too): stages and the CLI, not tabular shapes."""

from __future__ import annotations

import importlib
import inspect
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECTS = sorted(p.parent for p in (ROOT / "projects").glob("*/pyproject.toml"))
STAGES = ("config", "data", "features", "train", "evaluate", "serve", "__main__")
REPORT_SECTIONS = (
    "Problem",
    "Data",
    "Approach",
    "Results",
    "API",
    "Reproduce",
    "Design decisions",
    "Limitations",
)


def test_there_are_projects() -> None:
    assert PROJECTS, "no project found under projects/"


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_stage_modules(project: Path) -> None:
    package = project / "src" / project.name.replace("-", "_")
    missing = [s for s in STAGES if not (package / f"{s}.py").is_file()]
    assert not missing, f"{project.name} lacks stage module(s) {missing}"


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_readme_is_a_report(project: Path) -> None:
    readme = (project / "README.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^##\s+(.+?)\s*$", readme, re.M))
    missing = [s for s in REPORT_SECTIONS if s not in headings]
    assert not missing, f"{project.name}/README.md lacks section(s) {missing}"
    assert "<!-- results:start -->" in readme, "results table must be generated from metrics"
    assert re.search(r"curl ", readme), "README needs a curl example of the API"


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_committed_metrics(project: Path) -> None:
    metrics = project / "reports" / "metrics.json"
    assert metrics.is_file(), f"{project.name} has no committed reports/metrics.json"
    document = json.loads(metrics.read_text(encoding="utf-8"))
    assert document["data"]["kind"] in ("real", "synthetic")


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_depends_on_the_library(project: Path) -> None:
    meta = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert any(d.split()[0].startswith("tenfold") for d in meta["project"]["dependencies"])
    assert meta["tool"]["uv"]["sources"]["tenfold"] == {"workspace": True}


def test_make_targets_come_from_one_rule() -> None:
    """The Makefile derives `make <name>` and `make <name>-serve` from projects/ itself;
    a project only has to answer `python -m <package> run` and `serve`."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "$(PROJECTS): %:" in makefile
    assert "$(PROJECTS:%=%-serve)" in makefile


def _package(project: Path) -> str:
    return project.name.replace("-", "_")


def _stage(project: Path, module: str) -> Any:
    return importlib.import_module(f"{_package(project)}.{module}")


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_stage_functions(project: Path) -> None:
    """The stages every project exposes, under the same names, so the library's CLI
    workflow (train → log → challenger → evaluate → gate) drives each of them:
    ``data.load(cfg)``, ``train.train(cfg, ..., progress=)`` returning a
    :class:`tenfold.training.TrainResult`, ``train.from_run`` (a training read back from
    MLflow), ``evaluate.evaluate(result, cfg)``, ``evaluate.promotion_gate(result, cfg)``,
    ``evaluate.results_table(metrics)``, ``serve.SPEC`` and ``serve.app(settings)``."""
    from tenfold.training import ProjectConfig

    functions = {
        ("data", "load"): 1,
        ("train", "train"): 2,
        ("train", "from_run"): 3,
        ("evaluate", "evaluate"): 2,
        ("evaluate", "promotion_gate"): 2,
        ("evaluate", "results_table"): 1,
        ("serve", "app"): 0,
    }
    for (module, name), positional in functions.items():
        function = getattr(_stage(project, module), name, None)
        assert callable(function), f"{project.name}: {module}.{name} missing"
        parameters = inspect.signature(function).parameters.values()
        required = [p for p in parameters if p.default is p.empty and p.kind != p.VAR_KEYWORD]
        assert len(required) >= positional, f"{project.name}: {module}.{name}{required}"
    train = inspect.signature(_stage(project, "train").train).parameters
    assert train["progress"].kind == inspect.Parameter.KEYWORD_ONLY
    assert next(iter(train)) == "cfg"
    spec = _stage(project, "serve").SPEC
    assert spec.default_model_uri == f"models:/{_package(project)}@champion"
    cli = _stage(project, "__main__").CLI
    config = cli.defaults()
    assert isinstance(config, ProjectConfig)
    assert config.model_name == _package(project)
    assert cli.service == f"{_package(project)}.serve:app"


def _options(app: Any) -> dict[str, set[str]]:
    import typer.main

    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    return {
        name: {opt for p in command.params for opt in p.opts} for name, command in commands.items()
    }


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_cli_commands(project: Path) -> None:
    """The same commands in every project (``serve`` and ``report`` come from
    ``tenfold.cli.ProjectCli``, so they are read off the Typer app, not the source), and
    one set of options shared by ``run``, ``train`` and ``evaluate``: declared once, so
    whatever trains a model can also be evaluated and re-run with the same words."""
    options = _options(_stage(project, "__main__").app)
    missing = {"run", "train", "evaluate", "predict", "serve", "report"} - set(options)
    assert not missing, f"{project.name} CLI lacks {sorted(missing)}"
    run, train, evaluate = options["run"], options["train"], options["evaluate"]
    for common in ("--seed", "--verbose"):
        assert common in run & train & evaluate, f"{project.name}: {common}"
    assert "--reports-dir" in run & evaluate
    assert evaluate == run | {"--run-id"}, f"{project.name}: {evaluate ^ (run | {'--run-id'})}"
    assert run - {"--reports-dir"} <= train, f"{project.name}: {run - train}"
    assert {"--input", "--output", "--model-uri"} <= options["predict"]


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_help_does_not_import_the_heavy_libraries(project: Path) -> None:
    """``--help`` stays fast: the CLI module imports no scikit-learn, pandas or MLflow
    (stages are imported inside the commands)."""
    code = (
        "import contextlib, io, sys\n"
        f"import {_package(project)}.__main__ as cli\n"
        "for args in (['--help'], ['run', '--help'], ['evaluate', '--help']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        cli.app(args)\n"
        "heavy = ('sklearn', 'pandas', 'mlflow', 'numpy', 'matplotlib', 'optuna', 'scipy')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    imported = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert imported.stdout.strip() == "[]", f"{project.name}: {imported.stdout}"


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_dockerfile(project: Path) -> None:
    dockerfile = ROOT / "docker" / f"{project.name}.Dockerfile"
    assert dockerfile.is_file(), f"docker/{project.name}.Dockerfile missing"
    text = dockerfile.read_text(encoding="utf-8")
    for needed in ("uv sync --frozen --no-dev", "USER ", "HEALTHCHECK"):
        assert needed in text, f"docker/{project.name}.Dockerfile lacks {needed!r}"
