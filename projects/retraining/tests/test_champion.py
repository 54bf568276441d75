"""The champion the retrain flow promoted, once it serves: the monitor flow reports each
day's drift against its training rows (an Evidently report, HTML and JSON, per day in the
lake) and posts the Slack message to a loopback receiver once per period, whatever the
number of runs; the API serves it through fraud's request and response models."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient
from pytest_httpserver import HTTPServer

from fraud.serve import EXAMPLE
from retraining import data
from retraining.flows import monitor
from retraining.serve import SPEC, RetrainingSettings
from tenfold.drift import report_keys

from .conftest import HISTORY_DAYS, day_rows


def drifted(rows: Any) -> Any:
    """A day whose customers suddenly buy three times as often and twice as much."""
    out = rows.copy()
    for column in [c for c in out.columns if c.startswith("customer_nb_tx")]:
        out[column] = out[column] * 3
    out["tx_amount"] = out["tx_amount"] * 2
    return out


@pytest.mark.slow
@pytest.mark.service
@pytest.mark.usefixtures("prefect")
def test_report_per_day_and_one_alert_per_period(
    champion: tuple[Any, Any], world: Any, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, _ = champion
    httpserver.expect_request("/services/T0/B0/hook", method="POST").respond_with_data("ok")
    monkeypatch.setenv("SLACK_WEBHOOK_URL", httpserver.url_for("/services/T0/B0/hook"))
    lake = data.open_lake(cfg)
    layout = data.Layout(cfg.project)
    quiet_day, loud_day = world.date(HISTORY_DAYS), world.date(HISTORY_DAYS + 1)
    data.write_inference(lake, layout, quiet_day, day_rows(world, HISTORY_DAYS))
    data.write_inference(lake, layout, loud_day, drifted(day_rows(world, HISTORY_DAYS + 1)))

    first = monitor(config=cfg)
    by_day = {o.period: o for o in first}
    assert set(by_day) == {quiet_day.isoformat(), loud_day.isoformat()}
    assert not by_day[quiet_day.isoformat()].drifted
    loud = by_day[loud_day.isoformat()]
    assert loud.drifted
    assert "customer_nb_tx_1day" in loud.drifted_columns
    assert loud.alert == "sent"
    assert loud.champion == "1"
    html_key, json_key = report_keys(layout.drift, loud_day.isoformat())
    assert "<html" in lake.read_text(html_key).lower()
    assert json.loads(lake.read_text(json_key))["drifted"] is True

    # a scheduled run finds nothing new; a forced re-run of the day re-reports it but
    # does not alert again
    assert monitor(config=cfg) == []
    (again,) = monitor(config=cfg, periods=[loud_day.isoformat()])
    assert (again.drifted, again.alert) == (True, "already sent")

    requests = [request for request, _ in httpserver.log]
    assert len(requests) == 1
    payload = json.loads(requests[0].get_data())
    assert payload["text"].startswith(f"Data drift in fraud on {loud_day}")
    assert f"drift:fraud:{loud_day}" in json.dumps(payload["blocks"])


@pytest.mark.slow
def test_the_api_serves_the_champion(champion: tuple[Any, Any]) -> None:
    cfg, _ = champion
    settings = RetrainingSettings(model_uri=f"models:/{cfg.model_name}@champion")
    assert settings.reload_seconds == 60.0  # follows the alias by default
    with TestClient(SPEC.app(settings)) as client:
        assert client.get("/ready").status_code == 200
        card = client.get("/v1/model").json()
        one = client.post("/v1/predict", json=EXAMPLE)
        bad = client.post("/v1/predict", json={**EXAMPLE, "tx_amount": -5})
    assert card["version"] == "1"
    assert one.status_code == 200, one.text
    assert 0 <= one.json()["fraud_probability"] <= 1
    assert one.json()["model_version"] == "1"
    assert bad.status_code == 422
    assert "tx_amount" in bad.text


@pytest.mark.slow
def test_predict_scores_a_file_with_the_champion(champion: tuple[Any, Any], tmp_path: Any) -> None:
    import pandas as pd
    from typer.testing import CliRunner

    from retraining.__main__ import app

    cfg, _ = champion
    rows = tmp_path / "transactions.csv"
    pd.DataFrame([EXAMPLE, {**EXAMPLE, "transaction_id": "tx-2", "tx_amount": 12.5}]).to_csv(
        rows, index=False
    )
    out = tmp_path / "scores.csv"
    uri = f"models:/{cfg.model_name}@champion"
    args = ["predict", "--input", str(rows), "--output", str(out), "--model-uri", uri]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out)
    assert list(scores["transaction_id"]) == ["tx-000123", "tx-2"]
    assert scores["fraud_probability"].between(0, 1).all()


@pytest.mark.slow
def test_the_champions_training_is_rebuilt_from_mlflow(champion: tuple[Any, Any]) -> None:
    """``evaluate --run-id``'s path: the training read back by run id, on the same window,
    scores what the gate recorded when it promoted v1."""
    from retraining import evaluate, train
    from retraining.interface import target_for
    from tenfold import promotion, tracking

    cfg, _ = champion
    history, _, source = data.load_window(cfg)
    (promoted,) = promotion.history(cfg.model_name)
    run_id = MlflowClient().get_model_version(cfg.model_name, "1").tags["training_run"]
    training = tracking.read_training(target_for(cfg).config(), source, run_id=run_id)
    rebuilt = train.from_run(cfg, history, source, training)
    assert rebuilt.run_id == run_id
    scored = evaluate.evaluate(rebuilt, cfg).metrics["models"]["lightgbm"]["validation"]
    assert scored["metric"] == promoted.metric
    assert scored["score"] == pytest.approx(promoted.challenger_score)
