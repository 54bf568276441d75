"""Every project is held to the same shape, so a reader who knows one knows them all."""

from __future__ import annotations

import importlib
import json
import re
import tomllib
from pathlib import Path

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


def not_applicable(project: Path) -> dict[str, str]:
    """Contract items a project declares do not apply to it, each with its reason
    (``[tool.tenfold.contract.not-applicable]`` in its pyproject.toml). Only ``serve`` is
    known: a project that serves no model (a benchmark) has no serve stage, no ``serve`` or
    ``predict`` command and no curl example, and says so in its README's API section."""
    meta = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    waived = meta.get("tool", {}).get("tenfold", {}).get("contract", {}).get("not-applicable", {})
    unknown = set(waived) - {"serve"}
    assert not unknown, f"{project.name}: unknown contract waiver(s) {sorted(unknown)}"
    for item, reason in waived.items():
        assert str(reason).strip(), f"{project.name}: waiver {item!r} needs a reason"
    return dict(waived)


def test_there_are_projects() -> None:
    assert PROJECTS, "no project found under projects/"


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_stage_modules(project: Path) -> None:
    package = project / "src" / project.name.replace("-", "_")
    stages = [s for s in STAGES if s not in not_applicable(project)]
    missing = [s for s in stages if not (package / f"{s}.py").is_file()]
    assert not missing, f"{project.name} lacks stage module(s) {missing}"


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_readme_is_a_report(project: Path) -> None:
    readme = (project / "README.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^##\s+(.+?)\s*$", readme, re.M))
    missing = [s for s in REPORT_SECTIONS if s not in headings]
    assert not missing, f"{project.name}/README.md lacks section(s) {missing}"
    assert "<!-- results:start -->" in readme, "results table must be generated from metrics"
    if "serve" in not_applicable(project):
        api = readme.split("## API", 1)[1].split("\n## ", 1)[0]
        assert "not apply" in api, "a project that serves no model says so under ## API"
        return
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


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_cli_commands(project: Path) -> None:
    """The same commands in every project (``serve`` and ``report`` come from
    ``tenfold.cli.ProjectCli``, so they are read off the Typer app, not the source)."""
    import typer.main

    module = importlib.import_module(f"{project.name.replace('-', '_')}.__main__")
    commands = set(typer.main.get_command(module.app).commands)  # type: ignore[attr-defined]
    expected = {"run", "train", "evaluate", "predict", "serve", "report"}
    if "serve" in not_applicable(project):
        expected -= {"predict", "serve"}
    missing = expected - commands
    assert not missing, f"{project.name} CLI lacks {sorted(missing)}"


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_dockerfile(project: Path) -> None:
    dockerfile = ROOT / "docker" / f"{project.name}.Dockerfile"
    assert dockerfile.is_file(), f"docker/{project.name}.Dockerfile missing"
    text = dockerfile.read_text(encoding="utf-8")
    for needed in ("uv sync --frozen --no-dev", "USER ", "HEALTHCHECK"):
        assert needed in text, f"docker/{project.name}.Dockerfile lacks {needed!r}"
