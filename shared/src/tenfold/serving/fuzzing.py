"""Contract tests of a service with schemathesis (in-process, over ASGI): every check
enabled, a bounded and derandomised number of cases, and a tally of cases and failures
per check that a test prints and asserts on.

Used by each project's ``tests/test_api_contract.py``::

    from tenfold.serving.fuzzing import schemathesis_node_id, schemathesis_report  # autouse

    @pytest.fixture(scope="module")
    def api_schema(small_model):
        return contract_schema(create_app(SPEC, predictor=...), max_examples=100)

    schema = schemathesis.pytest.from_fixture("api_schema")
    TALLY = Tally("churn")

    @schema.parametrize()
    def test_the_api_keeps_its_contract(case):
        TALLY.call_and_validate(case)

Imports schemathesis (a dev dependency) only when called.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest


@pytest.fixture(scope="module", autouse=True)
def schemathesis_report(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a module's cases: its ``TALLY`` summary on the terminal (not captured), so
    a run shows how many cases ran and what failed, by check. Import it into the test
    module with :func:`schemathesis_node_id`."""
    yield
    tally = getattr(request.module, "TALLY", None)
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if isinstance(tally, Tally) and capture is not None:
        with capture.global_and_fixture_disabled():
            print(f"\n{tally.summary()}")


@pytest.fixture(autouse=True)
def schemathesis_node_id(request: pytest.FixtureRequest) -> None:
    """schemathesis 4's lazy schemas (``from_fixture``) rename the test node through
    ``node._nodeid``, which pytest 9 no longer has: give it one to read and write (only
    the name shown in reports). Import this autouse fixture into the test module."""
    node: Any = request.node
    if not hasattr(node, "_nodeid"):
        node._nodeid = node.nodeid


def contract_schema(
    app: Any,
    *,
    max_examples: int = 150,
    seed: int = 0,
    coverage: bool = True,
    headers: dict[str, str] | None = None,
) -> Any:
    """The app's OpenAPI schema loaded by schemathesis with every check on, at most
    ``max_examples`` generated cases per operation in the fuzzing phase (the examples
    and, unless ``coverage=False``, the coverage phase add theirs: boundary values of
    every field), derandomised: the same cases every run. ``headers`` go on every
    request (an API key: schemathesis then also checks that requests without it fail)."""
    import schemathesis
    from schemathesis.config import SchemathesisConfig

    config = SchemathesisConfig()
    config.update(seed=seed, max_failures=None)
    project = config.projects.default
    project.generation.update(max_examples=max_examples, deterministic=True, database="none")
    project.checks.update(included_check_names=["all"])
    project.phases.coverage.enabled = coverage
    if headers:
        project.update(headers=dict(headers))
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


def is_positive(case: Any) -> bool:
    """Whether schemathesis generated ``case`` as valid data (a 4xx answer is then a
    failure of ``positive_data_acceptance``)."""
    meta = case.meta
    return bool(meta is not None and meta.generation.mode.is_positive)


def enabled_checks(schema: Any) -> list[str]:
    """The checks schemathesis runs on every response of ``schema``."""
    from schemathesis.checks import CHECKS, load_all_checks

    load_all_checks()
    config = schema.config.checks
    return sorted(name for name in CHECKS.get_all_names() if config.get_by_name(name=name).enabled)


@dataclass
class Tally:
    """Cases run per operation and failures per check, across a test's cases."""

    project: str
    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    checks: list[str] = field(default_factory=list)

    def call_and_validate(self, case: Any) -> Any:
        """``case.call_and_validate()``, counted (cases by operation, answers by status);
        failures are counted by check and raised."""
        from schemathesis.core.failures import Failure, FailureGroup

        if not self.checks:
            self.checks = enabled_checks(case.operation.schema)
        self.cases[case.operation.label] += 1
        response = case.call()
        self.statuses[(case.operation.label, response.status_code)] += 1
        try:
            case.validate_response(response)
            return response
        except FailureGroup as group:
            for failure in group.exceptions:
                self._count(failure)
            raise
        except Failure as failure:
            self._count(failure)
            raise

    def _count(self, failure: Any) -> None:
        for check in type(failure).checks or (type(failure).__name__,):
            self.failures[check] += 1

    def summary(self) -> str:
        operations = ", ".join(f"{op} {n}" for op, n in sorted(self.cases.items()))
        failed = ", ".join(f"{c} {self.failures.get(c, 0)}" for c in self.checks) or "none run"
        return (
            f"schemathesis {self.project}: {sum(self.cases.values())} cases ({operations}); "
            f"failures by check: {failed}"
        )
