"""Request ids, access logs, server timing and request metrics (pure ASGI, so it wraps every
response, errors included)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from infra.ids import uuid7

__all__ = ["RequestIdMiddleware"]

log = structlog.get_logger("api.access")

# Probes and scrapes called every few seconds by load balancers, monitoring and the test
# harness: their successful answers are logged at debug only.
_PROBES = frozenset({"/ready", "/health", "/metrics"})

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Takes a safe ``X-Request-ID`` from the caller or makes one; echoes it; logs the request.

    Every response also carries ``Server-Timing: app;dur=<ms>``: the time from the request's
    arrival to its response headers (the whole body, compressed, for ordinary responses), so
    clients and benchmarks can tell server time from network time. ``observe`` (the app's
    :meth:`api.metrics.Metrics.observe_request`) is told of every answered request: its
    scope (routed or not), status and seconds until the response ended.
    """

    def __init__(
        self, app: ASGIApp, *, observe: Callable[[Scope, int, float], None] | None = None
    ) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = incoming if _SAFE_ID.match(incoming) else uuid7().hex
        http_scope: HTTPScope = scope
        http_scope.setdefault("state", {})["request_id"] = request_id
        status: dict[str, int] = {}
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers: list[Any] = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                took = (time.perf_counter() - started) * 1000
                headers.append((b"server-timing", f"app;dur={took:.1f}".encode()))
                message["headers"] = headers
            await send(message)

        # bound and reset by hand: the context manager's generator cost a few microseconds
        bound = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            took_s = time.perf_counter() - started
            code = status.get("code", 500)
            if self.observe is not None:
                self.observe(scope, code, took_s)
            quiet = code < 400 and http_scope["path"] in _PROBES
            (log.debug if quiet else log.info)(
                "http.request",
                method=http_scope["method"],
                path=http_scope["path"],
                status=code,
                duration_ms=round(took_s * 1000, 2),
            )
            structlog.contextvars.reset_contextvars(**bound)
