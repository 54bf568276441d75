"""The image and the Render blueprint, checked statically (no Docker engine here)."""

from __future__ import annotations

import re

import yaml

from nlp.config import PROJECT_DIR
from nlp.serve import app

ROOT = PROJECT_DIR.parents[1]
DOCKERFILE = ROOT / "docker" / "nlp.Dockerfile"
BLUEPRINT = PROJECT_DIR / "deploy" / "render.yaml"


def test_render_blueprint_is_valid_and_points_at_the_image() -> None:
    blueprint = yaml.safe_load(BLUEPRINT.read_text(encoding="utf-8"))
    (service,) = blueprint["services"]
    assert service["type"] == "web"
    assert service["runtime"] == "docker"
    assert service["plan"] == "free"
    # paths in a blueprint are relative to the repository root
    assert (ROOT / service["dockerfilePath"]).resolve() == DOCKERFILE
    assert (ROOT / service["dockerContext"]).resolve() == ROOT
    routes = {route.path for route in app().routes}  # type: ignore[attr-defined]
    assert service["healthCheckPath"] in routes
    env = {item["key"]: item for item in service["envVars"]}
    assert env["TENFOLD_API_KEY"].get("generateValue") is True  # never a committed secret
    assert "value" not in env["TENFOLD_API_KEY"]


def test_dockerfile_builds_what_it_serves() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    stages = re.findall(r"^FROM \S+ AS (\w+)", text, re.M)
    assert stages == ["build", "model", "runtime"]
    assert "uv sync --frozen --no-dev --package nlp" in text
    assert re.search(r"^USER app$", text, re.M)
    assert "HEALTHCHECK" in text
    # the model stage trains on real BBC News or fails; the runtime serves that model
    assert "--require-real-data" in text
    assert "TENFOLD_MODEL_URI=/app/model" in text
    # every file the build copies from the repository exists
    for source in re.findall(r"^COPY (?!--from)(?:--chown=\S+ )?(.+) \S+$", text, re.M):
        for path in source.split():
            assert (ROOT / path).exists(), f"COPY {path}: not in the repository"
