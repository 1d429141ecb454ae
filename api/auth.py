"""Bearer tokens: short-lived access JWTs and long-lived, revocable device JWTs.

Both are resolved to a :class:`~infra.scope.Principal` in one statement, remembered for up
to ``PATROL_CALLER_CACHE_S`` seconds (:mod:`patrol.callers`); a commit that disables a user
or revokes a device empties that memory, so the change takes effect at once. An access token
carries its user's session epoch (``sep``); a password reset, a disable or a role change
moves the epoch on and every access token minted before stops working on its next request.
Only ``Authorization: Bearer <token>`` is read.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from weakref import WeakKeyDictionary

import jwt
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AuthenticationResult
from litestar.security.jwt import JWTAuth, JWTAuthenticationMiddleware, Token

from infra.scope import Principal, Role, require_role
from infra.settings import AuthSettings
from patrol.accounts import resolve_principal
from patrol.callers import CALLERS, CallerKey

__all__ = [
    "METRICS_SCRAPE",
    "PUBLIC_PATHS",
    "CheckedToken",
    "MetricsScraper",
    "TokenMinter",
    "authorize_scrape",
    "build_jwt_auth",
    "client_address",
]

PUBLIC_PATHS = [
    "^/health$",
    "^/ready$",
    "^/schema",
    "^/api/v1/auth/token$",
    "^/api/v1/auth/refresh$",
    # The web console's static files (api/controllers/console.py) and "/", which sends a browser
    # there: code and styles only, the same for everyone, no data. A browser cannot send a
    # bearer token when it loads a page; everything the console shows comes from the API,
    # which still needs the token.
    "^/$",
    "^/console(/|$)",
]

_ACCESS = "access"
_DEVICE = "device"
_EPOCH = "sep"


async def _retrieve_principal(
    token: Token, connection: ASGIConnection[Any, Any, Any, Any]
) -> Principal | None:
    typ = token.extras.get("typ")
    if typ not in {_ACCESS, _DEVICE}:
        return None
    try:
        user_id = uuid.UUID(token.sub)
        device_id = uuid.UUID(str(token.jti)) if typ == _DEVICE else None
    except ValueError:
        return None
    # Access tokens minted before epochs existed carry none: they belong to the first one.
    epoch = token.extras.get(_EPOCH, 0) if typ == _ACCESS else None
    if epoch is not None and (not isinstance(epoch, int) or isinstance(epoch, bool)):
        return None
    # a caller resolved a moment ago (patrol.callers): no database round trip
    cache_s: float = connection.app.state.settings.auth.caller_cache_s
    key = (user_id, device_id, epoch)
    if cache_s <= 0:
        return await _resolve(connection.app.state.engine, key, cache_s)
    if (known := CALLERS.get(key)) is not None:
        return known
    return await _resolve_once(connection.app.state.engine, key, cache_s)


async def _resolve(engine: Any, key: CallerKey, cache_s: float) -> Principal | None:
    user_id, device_id, epoch = key
    async with engine.connect() as conn:
        return await resolve_principal(
            conn, user_id, device_id=device_id, epoch=epoch, cache_s=cache_s
        )


#: Resolutions under way, per event loop, by caller and cache generation.
_RESOLVING: WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[CallerKey, int], asyncio.Future[Principal | None]]
] = WeakKeyDictionary()


async def _resolve_once(engine: Any, key: CallerKey, cache_s: float) -> Principal | None:
    """One database round trip for the requests that miss the cache together.

    When a caller's moment in the cache runs out, every request it has in flight (fifty
    phones sharing a brigade token, a console's parallel polls) would otherwise take a pooled
    connection, or open one beyond the pool, to ask the same question at once. They share
    one answer instead, but only one asked after the cache's last clear: a request that
    arrives after a disable or a revocation committed never joins an answer read before it.
    A request that gives up (its client went away) leaves the answer to the others.
    """
    flights = _RESOLVING.setdefault(asyncio.get_running_loop(), {})
    flight = (key, CALLERS.generation)
    answer = flights.get(flight)
    if answer is None:
        answer = asyncio.ensure_future(_resolve(engine, key, cache_s))
        flights[flight] = answer

        def forget(done: asyncio.Future[Principal | None]) -> None:
            flights.pop(flight, None)
            if not done.cancelled():
                done.exception()  # seen here even when every request waiting gave up

        answer.add_done_callback(forget)
    return await asyncio.shield(answer)


#: Route ``opt`` key of the one handler that also takes the metrics token (``GET /metrics``).
METRICS_SCRAPE = "metrics_scrape"


@dataclass(frozen=True, slots=True)
class MetricsScraper:
    """The caller that sent ``PATROL_METRICS_TOKEN``: it may read ``/metrics``, nothing else."""


def _is_metrics_token(connection: ASGIConnection[Any, Any, Any, Any], encoded: str) -> bool:
    expected: str = connection.app.state.settings.auth.metrics_token
    return bool(expected) and hmac.compare_digest(expected.encode(), encoded.encode())


def authorize_scrape(caller: object) -> None:
    """The metrics token, or an admin's token; any other role gets 403 ``role_not_allowed``."""
    if isinstance(caller, MetricsScraper):
        return
    if not isinstance(caller, Principal):  # pragma: no cover - the middleware sets one
        raise NotAuthorizedException("send Authorization: Bearer <token>")
    require_role(caller, Role.ADMIN, action="read the metrics")


class _BearerOnly(JWTAuthenticationMiddleware):
    """Litestar reads whatever follows the first space; only the Bearer scheme is taken.

    On a route marked with :data:`METRICS_SCRAPE` the metrics token is taken as well.
    """

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        # the first such header, read from the scope (building the request's header map
        # cost more than the remembered token check)
        name = self.auth_header.lower().encode("latin-1")
        value = next((v for k, v in connection.scope["headers"] if k == name), b"")
        scheme, _, encoded = value.decode("latin-1").partition(" ")
        encoded = encoded.strip()
        if scheme.lower() != "bearer" or not encoded:
            raise NotAuthorizedException("send Authorization: Bearer <token>")
        if connection.route_handler.opt.get(METRICS_SCRAPE) and _is_metrics_token(
            connection, encoded
        ):
            return AuthenticationResult(user=MetricsScraper(), auth=None)
        return await self.authenticate_token(encoded_token=encoded, connection=connection)


class CheckedToken(Token):
    """A token whose signature check is remembered, keyed by its exact text.

    A phone sends the same bearer token with every request until it expires; checking the
    HMAC and parsing the JSON again each time is a fixed cost on every request. Only a token
    byte for byte equal to one already verified with the same secret is taken from memory,
    and its expiry and not-before times are checked again on every use. Who the token names
    is still resolved on every request (``_retrieve_principal``: the caller cache, else one
    database round trip shared by the requests that missed together).
    """

    _MAX = 4096
    _checked: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()  # noqa: RUF012
    _lock = threading.Lock()

    @classmethod
    def decode_payload(  # noqa: PLR0917 - the signature Token.decode calls it with
        cls,
        encoded_token: str,
        secret: str,
        algorithms: list[str],
        issuer: str | Sequence[str] | None = None,
        audience: str | Sequence[str] | None = None,
        options: Any = None,
    ) -> Any:
        key = (encoded_token, secret, tuple(algorithms), repr(issuer), repr(audience),
               repr(sorted((options or {}).items())))  # fmt: skip
        with cls._lock:
            payload = cls._checked.get(key)
        if payload is not None:
            now, opts = time.time(), options or {}
            if opts.get("verify_exp", True) and float(payload.get("exp", "inf")) <= now:
                raise jwt.ExpiredSignatureError("Signature has expired")
            if opts.get("verify_nbf", True) and float(payload.get("nbf", 0)) > now:
                raise jwt.ImmatureSignatureError("The token is not yet valid (nbf)")
            return dict(payload)
        payload = super().decode_payload(
            encoded_token, secret, algorithms, issuer=issuer, audience=audience, options=options
        )
        with cls._lock:
            cls._checked[key] = dict(payload)
            if len(cls._checked) > cls._MAX:
                cls._checked.popitem(last=False)
        return payload

    #: decoded tokens with their expiry and not-before times (POSIX seconds)
    _decoded: OrderedDict[tuple[Any, ...], tuple[Token, float, float]] = OrderedDict()  # noqa: RUF012

    @classmethod
    def decode(  # noqa: PLR0917 - Litestar's signature
        cls,
        encoded_token: str,
        secret: str,
        algorithm: str,
        audience: str | Sequence[str] | None = None,
        issuer: str | Sequence[str] | None = None,
        require_claims: Sequence[str] | None = None,
        verify_exp: bool = True,
        verify_nbf: bool = True,
        strict_audience: bool = False,
    ) -> Any:
        """:meth:`Token.decode`, the decoded token taken from memory while it is still valid.

        Building the token from its payload (dates parsed, claims sorted, the dataclass
        checked) cost as much again as the remembered signature check. A token is reused only
        for the same text and the same options, and only before its expiry (and after its
        not-before time): the first request past it takes the whole way, which refuses it.
        Nothing reads or changes a token after authentication but who it names.
        """
        key = (encoded_token, secret, algorithm, repr(audience), repr(issuer),
               repr(require_claims), verify_exp, verify_nbf, strict_audience)  # fmt: skip
        with cls._lock:
            known = cls._decoded.get(key)
        if known is not None:
            token, expires, not_before = known
            now = time.time()
            if now < expires and (not verify_nbf or not_before <= now):
                return token
        token = super().decode(
            encoded_token, secret, algorithm, audience=audience, issuer=issuer,
            require_claims=require_claims, verify_exp=verify_exp, verify_nbf=verify_nbf,
            strict_audience=strict_audience,
        )  # fmt: skip
        nbf = token.extras.get("nbf", 0)
        not_before = float(nbf) if isinstance(nbf, int | float) else float("inf")
        with cls._lock:
            cls._decoded[key] = (token, token.exp.timestamp(), not_before)
            if len(cls._decoded) > cls._MAX:
                cls._decoded.popitem(last=False)
        return token


def build_jwt_auth(settings: AuthSettings) -> JWTAuth[Principal, Token]:
    return JWTAuth[Principal, Token](
        token_cls=CheckedToken,
        authentication_middleware_class=_BearerOnly,
        token_secret=settings.secret_key,
        retrieve_user_handler=_retrieve_principal,
        exclude=PUBLIC_PATHS,
        default_token_expiration=timedelta(seconds=settings.access_token_ttl_s),
        description="Send `Authorization: Bearer <access or device token>`.",
    )


class TokenMinter:
    """Mints the signed tokens; what is stored about them lives in :mod:`patrol.accounts`."""

    def __init__(self, auth: JWTAuth[Principal, Token], settings: AuthSettings) -> None:
        self.auth = auth
        self.settings = settings

    def access_token(self, principal: Principal, *, epoch: int = 0) -> str:
        """An access token for the user's current session ``epoch`` (``users.session_epoch``)."""
        return self.auth.create_token(
            identifier=str(principal.user_id),
            token_expiration=timedelta(seconds=self.settings.access_token_ttl_s),
            token_extras={
                "typ": _ACCESS,
                "role": principal.role.value,
                "cty": str(principal.county_id),
                _EPOCH: epoch,
            },
        )

    def device_token(self, principal: Principal, device_id: uuid.UUID, ttl: timedelta) -> str:
        return self.auth.create_token(
            identifier=str(principal.user_id),
            token_expiration=ttl,
            token_unique_jwt_id=str(device_id),
            token_extras={"typ": _DEVICE, "cty": str(principal.county_id)},
        )


def _is_trusted(host: str, trusted: Sequence[str]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host in trusted  # a peer named by the server, not an address
    for entry in trusted:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def client_address(connection: ASGIConnection[Any, Any, Any, Any], settings: AuthSettings) -> str:
    """The address a request came from, as login throttling counts it.

    The connection's peer, unless the peer is one of ``settings.trusted_proxies``: then the
    last ``X-Forwarded-For`` hop that is not itself a trusted proxy (a client can write any
    hops it likes in front; only the ones our proxies appended are believed).
    """
    peer = connection.client.host if connection.client else ""
    if not settings.trusted_proxies or not _is_trusted(peer, settings.trusted_proxies):
        return peer or "unknown"
    hops = [
        hop.strip()
        for header in connection.headers.getall("x-forwarded-for", [])
        for hop in header.split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        if not _is_trusted(hop, settings.trusted_proxies):
            return hop
    return peer or "unknown"
