"""Markdown generated from metrics files, so README numbers come from one command."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Cell = Callable[[Mapping[str, Any]], object]


def fmt(value: object, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[tuple[str, Cell]],
) -> str:
    """A table with one row per mapping; each column is (header, cell function)."""
    header = "| " + " | ".join(h for h, _ in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(str(cell(row)) for _, cell in columns) + " |" for row in rows]
    return "\n".join([header, rule, *body])


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def replace_section(text: str, name: str, content: str) -> str:
    """Replace what sits between ``<!-- name:start -->`` and ``<!-- name:end -->``."""
    start, end = _markers(name)
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise ValueError(f"markers {start} … {end} not found")
    return pattern.sub(lambda _: f"{start}\n{content.strip()}\n{end}", text, count=1)


def read_section(text: str, name: str) -> str:
    start, end = _markers(name)
    match = re.search(re.escape(start) + r"\n?(.*?)\n?" + re.escape(end), text, re.S)
    if match is None:
        raise ValueError(f"markers {start} … {end} not found")
    return match.group(1).strip()


def update_readme(path: Path, sections: Mapping[str, str]) -> bool:
    """Rewrite generated sections of a README; returns whether the file changed."""
    before = path.read_text(encoding="utf-8")
    after = before
    for name, content in sections.items():
        after = replace_section(after, name, content)
    if after != before:
        path.write_text(after, encoding="utf-8")
    return after != before


def write_reports(
    folder: Path, metrics: Mapping[str, Any], figures: Mapping[str, Figure]
) -> list[Path]:
    """A run's report files: ``metrics.json`` (byte-stable, :func:`tenfold.repro.write_metrics`)
    and every figure as the PNG its key names (:func:`tenfold.evaluation.save_figure`)."""
    from tenfold.evaluation import save_figure
    from tenfold.repro import write_metrics

    written = [write_metrics(folder / "metrics.json", metrics)]
    written += [save_figure(figure, folder / name) for name, figure in figures.items()]
    return written


def output_dir(reports_dir: Path, *, kind: str, data_path: Path | None = None) -> Path:
    """Where a run's reports go: ``reports_dir`` itself (the committed, published results)
    only for real data of the project's own dataset; ``custom/<file stem>`` for a user's
    CSV (``--data``) and ``synthetic/`` for the synthetic twin, both git-ignored, so an
    offline or custom run never overwrites the published numbers."""
    if data_path is not None:
        return reports_dir / "custom" / data_path.stem
    return reports_dir if kind == "real" else reports_dir / "synthetic"
