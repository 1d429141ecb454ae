"""``CheckLocation`` answered without Litestar's per-request handler machinery.

A phone on patrol sends a fix every few seconds, so a county's phones together make the single
check the busiest operation by far. Answered from the in-memory index the check itself takes
about 0.2 ms; Litestar's general way to a handler (routing, a request object, the signature
model, dependencies resolved as tasks, a response object) cost more than that again on every
request. This ASGI layer, between the request-id middleware and Litestar, answers ``POST
/api/v1/geofence/check`` itself, out of the same parts:

- the route handler Litestar registered (its guards, exception handlers, opt, type encoders;
  ``scope["route_handler"]`` is set as the router sets it, so metrics count the operation);
- the route's middleware stack as Litestar builds it (authentication with the app's JWT
  settings and caller cache, gzip, the exception middleware that renders every failure as the
  same problem document);
- the body decoded by the typed decoder the input guard uses for this contract type
  (:func:`api.decoding.typed_decoder`), the handler's own body
  (:func:`api.controllers.geofence.answer_check_location`: the index, else a request
  session of :func:`api.deps.location_checks`), and the handler's serializer.

What it does not take on goes to Litestar untouched, the body replayed: another path or
method, a query string, a body that is not ``application/json``, larger than
:data:`MAX_BODY_BYTES` or not of the contract's type (Litestar's way gives the precise
400/415). ``PATROL_FAST_CHECKS=0`` turns the layer off.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import msgspec
from litestar._asgi.routing_trie.mapping import build_route_middleware_stack
from litestar._asgi.utils import is_valid_host, wrap_in_exception_handler
from litestar.enums import ScopeType
from litestar.routes import HTTPRoute
from litestar.serialization import encode_json, get_serializer
from litestar.utils.scope.state import ScopeState

from api.controllers.geofence import answer_check_location
from api.decoding import typed_decoder

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.handlers import HTTPRouteHandler
    from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

__all__ = ["MAX_BODY_BYTES", "PATH", "FastCheckLocation"]

PATH = "/api/v1/geofence/check"
#: A fix is about 60 bytes of JSON; anything much larger is left to Litestar's way.
MAX_BODY_BYTES = 16 * 1024
_DATA = "fast_checks.data"


def _route_handler(app: Litestar, path: str) -> HTTPRouteHandler:
    for route in app.routes:
        if isinstance(route, HTTPRoute) and route.path == path and "POST" in route.methods:
            handler, _ = route.route_handler_map["POST"]
            return handler
    msg = f"no POST {path} route to answer directly"
    raise LookupError(msg)


class FastCheckLocation:
    """ASGI: answers ``CheckLocation`` itself, passes everything else to ``next_app``."""

    def __init__(self, app: Litestar, next_app: ASGIApp) -> None:
        self._next = next_app
        handler = _route_handler(app, PATH)
        if (handler.cache or app.csrf_config or app.allowed_hosts or app.compression_config
                or app.cors_config):  # fmt: skip
            msg = "the direct CheckLocation path does not take on caching, CSRF, CORS or hosts"
            raise ValueError(msg)
        data = handler.parsed_data_field
        decoder = typed_decoder(data.annotation) if data is not None else None
        if decoder is None:
            msg = "CheckLocation's body type is not one the typed decoder checks in full"
            raise ValueError(msg)
        self._decoder = decoder
        self._handler = handler
        self._state = app.state
        self._guards = handler.resolve_guards()
        self._exception_handlers = handler.resolve_exception_handlers()
        self._request_class = handler.resolve_request_class()
        self._serializer = get_serializer(handler.resolve_type_encoders())
        media_type = handler.media_type
        self._media_type = str(getattr(media_type, "value", media_type)).encode()
        # the stack Litestar builds for the route (exception middleware innermost, then the
        # app's middleware: authentication, gzip) around this layer's answer, in the exception
        # middleware Litestar puts around its router (which renders authentication's refusals)
        self._stack = wrap_in_exception_handler(
            build_route_middleware_stack(
                app,
                SimpleNamespace(handle=self._answer),  # type: ignore[arg-type]
                handler,
            )
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self._next(scope, receive, send)
            return
        if (
            scope["path"] != PATH
            or scope["method"] != "POST"
            or scope["query_string"]
            or scope.get("root_path")
        ):
            await self._next(scope, receive, send)
            return
        media_type, host = b"", None
        for name, value in scope["headers"]:
            if name == b"content-type":
                media_type = value.partition(b";")[0].strip().lower()
            elif name == b"host":
                host = value
        if media_type != b"application/json" or (host is not None and not is_valid_host(host)):
            await self._next(scope, receive, send)
            return
        heard: list[ReceiveMessage] = []
        body = await _read_body(receive, heard)
        data = None if body is None else self._decode(body)
        if data is None:  # Litestar's way, with what was read replayed
            await self._next(scope, _replay(heard, receive), send)
            return
        scope["state"][_DATA] = data
        scope["path_params"] = {}
        scope["route_handler"] = self._handler
        scope["path_template"] = PATH
        ScopeState.from_scope(scope).exception_handlers = self._exception_handlers
        await self._stack(scope, _replay(heard, receive), send)

    def _decode(self, body: bytes) -> Any:
        try:
            return self._decoder.decode(body)
        except (msgspec.DecodeError, RecursionError):
            return None

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The route's handler: guards, the check, the answer (as ``HTTPRoute.handle``)."""
        request = self._request_class(scope=scope, receive=receive, send=send)
        for guard in self._guards:
            await guard(request, self._handler)  # type: ignore[misc]
        answer = await answer_check_location(scope["state"].pop(_DATA), self._state, request.user)
        body = encode_json(answer, self._serializer)
        headers = [(b"content-type", self._media_type), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})


async def _read_body(receive: Receive, heard: list[ReceiveMessage]) -> bytes | None:
    """The whole body, or ``None`` past :data:`MAX_BODY_BYTES` or on a disconnect (every
    message read is kept in ``heard`` for the replay)."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        heard.append(message)
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        parts.append(chunk)
        if not message.get("more_body", False):
            return parts[0] if len(parts) == 1 else b"".join(parts)


def _replay(heard: list[ReceiveMessage], receive: Receive) -> Receive:
    """``receive`` giving the messages already read first, in order."""
    pending = list(heard)

    async def replayed() -> ReceiveMessage:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
