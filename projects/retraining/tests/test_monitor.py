"""The monitor flow: a drift report (HTML and JSON) per day in the lake, and the Slack
message posted to a loopback receiver once per period, whatever the number of runs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from retraining import data
from retraining.flows import monitor
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
