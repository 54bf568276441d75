"""The two ASGI layers around every service.

Plain ASGI rather than ``BaseHTTPMiddleware``: the latter adds hundreds of microseconds
per request, which is churn's whole latency budget.

- :class:`Instrumentation` (outermost): a request id on every response (``X-Request-ID``,
  echoed when the client sends a sane one), request counts and latency by route and
  status, the service's prediction threads for :func:`~tenfold.serving.run_blocking`,
  and a JSON 500 with the request id for any error a handler did not expect.
- :class:`BodyLimit`: a body larger than ``max_body_bytes`` is refused with 413 before
  it is parsed: at once when ``Content-Length`` says so, else as soon as the bytes
  received pass the limit (chunked uploads included).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from starlette.exceptions import HTTPException

from tenfold.serving.concurrency import reset_executor, use_executor
from tenfold.serving.metrics import ServiceMetrics

log = logging.getLogger("tenfold.serving")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class HasExecutor(Protocol):
    executor: ThreadPoolExecutor | None


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a body passes the limit: an HTTPException, so FastAPI's
    body reader lets it through to the 413 handler instead of calling it a parse error."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


def request_id_of(scope: Scope) -> str | None:
    state: dict[str, Any] = scope.get("state") or {}
    value = state.get("request_id")
    return str(value) if value is not None else None


async def send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class Instrumentation:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: ServiceMetrics,
        state: HasExecutor,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["started"] = started
        state["started_at"] = time.time()
        status = 500
        response_started = False
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        token = use_executor(self.state.executor)
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error (request %s)", request_id)
            if not response_started:
                await send_json(
                    send_with_id, 500, {"detail": "internal error", "request_id": request_id}
                )
        finally:
            reset_executor(token)
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "other"
            method = scope["method"]
            self.metrics.requests.labels(endpoint, method, str(status)).inc()
            self.metrics.latency.labels(endpoint, method).observe(time.perf_counter() - started)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _REQUEST_ID.match(text) else None
    return None


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, send, limit)
            return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            # read outside a route (which turns it into a 413 itself)
            if response_started:
                raise
            await _refuse(scope, send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    await send_json(
        send,
        413,
        {"detail": f"request body larger than {limit} bytes", "request_id": request_id_of(scope)},
    )
