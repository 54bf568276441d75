"""The deployment files, checked statically (no AWS account, no Docker engine here): the
GitHub workflow's triggers and commands, the CloudFormation template (cfn-lint, and the
body it sends GitHub), the IAM policy's scope, the compose file (docker-compose config)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from retraining.data import Layout

ROOT = Path(__file__).resolve().parents[3]
AWS = ROOT / "projects" / "retraining" / "deploy" / "aws"
WORKFLOW = ROOT / ".github" / "workflows" / "retrain.yml"
TEMPLATE = AWS / "new-data-dispatch.yaml"
COMPOSE = ROOT / "docker" / "retraining.compose.yml"


def test_the_workflow_runs_the_flows_on_new_data_and_on_a_schedule() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as a boolean
    assert triggers["repository_dispatch"] == {"types": ["new-data"]}
    (schedule,) = triggers["schedule"]
    assert len(schedule["cron"].split()) == 5
    assert "workflow_dispatch" in triggers
    assert workflow["concurrency"]["cancel-in-progress"] is False  # never kill a retraining
    job = workflow["jobs"]["retrain"]
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert 'python -m retraining retrain --lake "$RETRAINING_LAKE"' in runs
    assert 'python -m retraining monitor --lake "$RETRAINING_LAKE"' in runs
    assert "uv sync --frozen --no-dev --package retraining --extra train" in runs
    # what the event carries is data: passed through the environment, never into a script
    assert "client_payload" not in runs
    # production's addresses and keys come from the repository's secrets
    for name in ("MLFLOW_TRACKING_URI", "SLACK_WEBHOOK_URL", "PREFECT_API_URL"):
        assert job["env"][name] == f"${{{{ secrets.{name} }}}}"
    assert workflow["permissions"]["id-token"] == "write"  # AWS through OIDC, no keys


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Sub, !Ref, !GetAtt) as {"Fn": value}."""


_CloudFormationLoader.add_multi_constructor(
    "!",
    lambda loader, suffix, node: {
        suffix: loader.construct_scalar(node)
        if isinstance(node, yaml.ScalarNode)
        else loader.construct_object(node, deep=True)
    },
)


def test_the_cloudformation_template_passes_cfn_lint() -> None:
    linted = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), str(TEMPLATE)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


def render(template: str, event: dict[str, Any], paths: dict[str, str]) -> Any:
    """An input transformer on ``event`` as EventBridge documents it: a placeholder
    outside quotes becomes the JSON value at its path."""

    def value(path: str) -> Any:
        found: Any = event
        for part in path.removeprefix("$.").split("."):
            found = found[part]
        return found

    return json.loads(
        re.sub(r"<([\w.-]+)>", lambda m: json.dumps(value(paths[m.group(1)])), template)
    )


def test_a_new_batch_becomes_githubs_repository_dispatch_body() -> None:
    template = yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=_CloudFormationLoader)
    resources = template["Resources"]
    rule = resources["NewDataRule"]["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["detail-type"] == ["Object Created"]
    (prefix,) = pattern["detail"]["object"]["key"]
    # the prefix the flow reads batches from (every project's lands below incoming/)
    assert prefix == {"prefix": {"Sub": "${LakePrefix}/incoming/"}}
    assert Layout("fraud").incoming.startswith("incoming/")
    (target,) = rule["Targets"]
    destination = resources["GitHubDispatch"]["Properties"]
    assert destination["HttpMethod"] == "POST"
    assert destination["InvocationEndpoint"] == {
        "Sub": "https://api.github.com/repos/${GitHubRepository}/dispatches"
    }
    event = {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {
            "bucket": {"name": "tenfold-lake"},
            "object": {"key": "tenfold/incoming/fraud/2018-06-08.v2.csv", "size": 1234},
        },
    }
    transformer = target["InputTransformer"]
    body = render(transformer["InputTemplate"], event, transformer["InputPathsMap"])
    assert body == {
        "event_type": "new-data",
        "client_payload": {
            "bucket": "tenfold-lake",
            "key": "tenfold/incoming/fraud/2018-06-08.v2.csv",
        },
    }
    assert template["Parameters"]["GitHubToken"]["NoEcho"] is True


def test_the_iam_policy_reaches_the_lake_prefix_and_nothing_else() -> None:
    policy = json.loads((AWS / "iam-policy.json").read_text(encoding="utf-8"))
    statements = policy["Statement"]
    assert {s["Effect"] for s in statements} == {"Allow"}
    allowed: dict[str, set[str]] = {}
    for statement in statements:
        resources = statement["Resource"]
        for resource in [resources] if isinstance(resources, str) else resources:
            assert resource in ("arn:aws:s3:::tenfold-lake", "arn:aws:s3:::tenfold-lake/tenfold/*")
            for action in statement["Action"]:
                assert "*" not in action
                allowed.setdefault(action, set()).add(resource)
    # what the lake does through s3fs: list, read, write, quarantine (copy + delete)
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
        assert allowed[action] == {"arn:aws:s3:::tenfold-lake/tenfold/*"}
    (listing,) = [s for s in statements if s["Action"] == ["s3:ListBucket"]]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["tenfold", "tenfold/*"]}}


def _compose(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail(
            "docker-compose is not installed: apt-get install docker-compose (.ci/run does)"
        )
    return subprocess.run(
        [binary, "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_the_compose_file_is_valid_and_needs_the_lake() -> None:
    base = {k: v for k, v in os.environ.items() if k != "RETRAINING_LAKE"}
    valid = _compose({**base, "RETRAINING_LAKE": "s3://tenfold-lake/tenfold"})
    assert valid.returncode == 0, valid.stderr
    config = yaml.safe_load(valid.stdout)
    worker = config["services"]["worker"]
    assert worker["build"]["dockerfile"] == "docker/retraining.Dockerfile"
    assert worker["environment"]["PREFECT_API_URL"] == "http://prefect:4200/api"
    assert worker["environment"]["RETRAINING_LAKE"] == "s3://tenfold-lake/tenfold"
    assert "AWS_SECRET_ACCESS_KEY" not in worker["environment"]  # the instance profile's
    assert set(config["services"]) == {"prefect", "mlflow", "worker", "api"}
    missing = _compose(base)
    assert missing.returncode != 0
    assert "RETRAINING_LAKE" in missing.stderr
    dockerfile = (ROOT / "docker" / "retraining.Dockerfile").read_text(encoding="utf-8")
    assert "python -m retraining deploy" in dockerfile
