"""Alerts to Slack through an incoming webhook, sent once per idempotency key.

An :class:`Alert` has a key that names what it is about (``drift:fraud:2018-07-12``):
:func:`send_once` posts it only if that key has not been sent before, and records it
only after Slack accepted it, so a monitor that runs twice for the same period (a retry,
a schedule catching up, a manual re-run) alerts once, and a failed post is tried again
on the next run. Slack's webhooks have no idempotency of their own; the record of sent
keys (:class:`SentAlerts`) is ours: a folder of small JSON objects in a
:class:`tenfold.storage.Lake` (:class:`LakeSentAlerts`) in production.

The webhook URL comes from the environment (``SLACK_WEBHOOK_URL``), never from code or
config files; without one the alert is recorded as not sent and nothing is posted.
Only the standard library is used for the request.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from tenfold.storage import Lake

WEBHOOK_ENV = "SLACK_WEBHOOK_URL"
Status = Literal["sent", "already sent", "no webhook", "failed"]


@dataclass(frozen=True)
class Alert:
    """What to tell people: a title, a text (Slack mrkdwn), a few labelled facts, an
    optional link (a report), and the idempotency ``key``."""

    key: str
    title: str
    text: str
    fields: Mapping[str, str] = field(default_factory=dict)
    link: str | None = None


def slack_payload(alert: Alert) -> dict[str, Any]:
    """The incoming-webhook JSON: a plain ``text`` (notifications and clients without
    blocks) and Block Kit blocks: header, text, facts, the link and the key."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": alert.title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": alert.text[:3000]}},
    ]
    if alert.fields:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{name}*\n{value}"}
                    for name, value in list(alert.fields.items())[:10]
                ],
            }
        )
    context = [{"type": "mrkdwn", "text": f"alert `{alert.key}`"}]
    if alert.link:
        context.insert(0, {"type": "mrkdwn", "text": f"<{alert.link}|report>"})
    blocks.append({"type": "context", "elements": context})
    return {"text": f"{alert.title}: {alert.text}"[:3000], "blocks": blocks}


def webhook_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The webhook URL from ``SLACK_WEBHOOK_URL`` (None when unset or blank)."""
    value = (os.environ if environ is None else environ).get(WEBHOOK_ENV, "").strip()
    return value or None


class SentAlerts(Protocol):
    """The record of keys already sent."""

    def sent(self, key: str) -> bool: ...

    def record(self, key: str, payload: Mapping[str, Any]) -> None: ...


class LakeSentAlerts:
    """Sent keys as ``<prefix>/<key>.json`` objects in a lake (the payload inside)."""

    def __init__(self, lake: Lake, prefix: str) -> None:
        self.lake = lake
        self.prefix = prefix.rstrip("/")

    def _key(self, key: str) -> str:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in key)
        return f"{self.prefix}/{safe}.json"

    def sent(self, key: str) -> bool:
        return self.lake.exists(self._key(key))

    def record(self, key: str, payload: Mapping[str, Any]) -> None:
        self.lake.write_json(self._key(key), {"key": key, "payload": dict(payload)})


class MemorySentAlerts:
    """Sent keys in memory (one process; tests)."""

    def __init__(self) -> None:
        self.keys: dict[str, Mapping[str, Any]] = {}

    def sent(self, key: str) -> bool:
        return key in self.keys

    def record(self, key: str, payload: Mapping[str, Any]) -> None:
        self.keys[key] = dict(payload)


@dataclass(frozen=True)
class Delivery:
    """What became of an alert: ``sent``, ``already sent`` (its key was), ``no webhook``
    (none configured) or ``failed`` (``detail`` says why; it is not recorded, so the
    next run tries again)."""

    key: str
    status: Status
    detail: str = ""

    @property
    def delivered(self) -> bool:
        return self.status in ("sent", "already sent")


Post = Callable[[str, bytes, float], int]


def post_json(url: str, body: bytes, timeout: float) -> int:
    """POST ``body`` as JSON; the HTTP status (Slack answers 200 and ``ok``)."""
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def send_once(
    alert: Alert,
    sent: SentAlerts,
    *,
    url: str | None = None,
    timeout: float = 10.0,
    attempts: int = 3,
    backoff: float = 1.0,
    post: Post = post_json,
) -> Delivery:
    """Post ``alert`` to the webhook (``url``, else ``SLACK_WEBHOOK_URL``) unless its key
    was sent already; record the key once Slack answered 200. A 429 or 5xx answer or a
    network error is tried ``attempts`` times (waiting ``backoff`` seconds, doubling);
    any other answer (400 bad payload, 403/404 a revoked webhook) is final."""
    if sent.sent(alert.key):
        return Delivery(alert.key, "already sent")
    target = url or webhook_url()
    if target is None:
        return Delivery(alert.key, "no webhook", f"{WEBHOOK_ENV} is not set")
    payload = slack_payload(alert)
    body = json.dumps(payload).encode("utf-8")
    detail = ""
    for attempt in range(attempts):
        try:
            status = post(target, body, timeout)
        except OSError as exc:  # refused, reset, timed out
            status, detail = 0, f"{type(exc).__name__}: {exc}"
        if status == 200:
            sent.record(alert.key, payload)
            return Delivery(alert.key, "sent")
        detail = detail if status == 0 else f"HTTP {status}"
        if status != 0 and status != 429 and status < 500:
            break
        if attempt + 1 < attempts:
            time.sleep(backoff * 2**attempt)
    return Delivery(alert.key, "failed", detail)
