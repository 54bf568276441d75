"""tenfold.alerts against a loopback HTTP receiver standing in for Slack's webhook:
the payload arrives, once per idempotency key, and failures are retried or kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tenfold.alerts import (
    Alert,
    LakeSentAlerts,
    MemorySentAlerts,
    send_once,
    slack_payload,
    webhook_url,
)
from tenfold.storage import Lake

ALERT = Alert(
    key="drift:fraud:2018-07-12",
    title="Data drift in fraud on 2018-07-12",
    text="27% of the monitored columns drifted.",
    fields={"drift share": "0.27", "model in service": "v3"},
    link="s3://bucket/reports/drift/fraud/2018-07-12/drift.html",
)


def test_payload_is_an_incoming_webhook_message() -> None:
    payload = slack_payload(ALERT)
    assert payload["text"].startswith("Data drift in fraud on 2018-07-12: 27%")
    kinds = [block["type"] for block in payload["blocks"]]
    assert kinds == ["header", "section", "section", "context"]
    facts = payload["blocks"][2]["fields"]
    assert {"type": "mrkdwn", "text": "*drift share*\n0.27"} in facts
    context = payload["blocks"][3]["elements"]
    assert context[0]["text"] == f"<{ALERT.link}|report>"
    assert "drift:fraud:2018-07-12" in context[1]["text"]


def test_webhook_url_comes_from_the_environment() -> None:
    assert webhook_url({"SLACK_WEBHOOK_URL": " https://hooks.slack.com/services/T/B/x "}) == (
        "https://hooks.slack.com/services/T/B/x"
    )
    assert webhook_url({"SLACK_WEBHOOK_URL": ""}) is None
    assert webhook_url({}) is None


@pytest.mark.service
def test_sent_once_per_key_to_the_receiver(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    url = httpserver.url_for("/hook")
    sent = LakeSentAlerts(Lake(str(tmp_path)), "state/fraud/alerts")
    first = send_once(ALERT, sent, url=url)
    again = send_once(ALERT, sent, url=url)
    other = send_once(Alert("drift:fraud:2018-07-13", "t", "x"), sent, url=url)
    assert (first.status, again.status, other.status) == ("sent", "already sent", "sent")
    requests = [request for request, _ in httpserver.log]
    assert len(requests) == 2
    body = json.loads(requests[0].get_data())
    assert body == slack_payload(ALERT)
    assert requests[0].headers["Content-Type"] == "application/json"
    # the record survives the process: a new ledger on the same lake knows the key
    assert LakeSentAlerts(Lake(str(tmp_path)), "state/fraud/alerts").sent(ALERT.key)


@pytest.mark.service
def test_server_errors_are_retried_and_bad_requests_are_not(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/hook").respond_with_data("oops", status=503)
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    sent = MemorySentAlerts()
    delivery = send_once(ALERT, sent, url=httpserver.url_for("/hook"), backoff=0.01)
    assert delivery.status == "sent"
    assert len(httpserver.log) == 2

    httpserver.clear()
    httpserver.expect_request("/bad").respond_with_data("invalid_payload", status=400)
    other = Alert("drift:fraud:2018-07-14", "t", "x")
    failed = send_once(other, sent, url=httpserver.url_for("/bad"), backoff=0.01)
    assert (failed.status, failed.detail) == ("failed", "HTTP 400")
    assert len(httpserver.log) == 1  # a 400 is final
    assert not sent.sent(other.key)  # not recorded: the next run tries again


def test_no_webhook_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    sent = MemorySentAlerts()
    assert send_once(ALERT, sent).status == "no webhook"
    assert not sent.sent(ALERT.key)


def test_unreachable_webhook_fails_after_the_attempts() -> None:
    calls = []

    def refuse(url: str, body: bytes, timeout: float) -> int:
        calls.append(url)
        raise ConnectionRefusedError("refused")

    delivery = send_once(ALERT, MemorySentAlerts(), url="http://x", post=refuse, backoff=0)
    assert delivery.status == "failed"
    assert "ConnectionRefusedError" in delivery.detail
    assert len(calls) == 3
