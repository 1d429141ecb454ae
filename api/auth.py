"""Bearer tokens: short-lived access JWTs and long-lived, revocable device JWTs.

Both are resolved to a fresh :class:`~infra.scope.Principal` on every request, so disabling a
user or revoking a device takes effect at once.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import jwt
from litestar.connection import ASGIConnection
from litestar.security.jwt import JWTAuth, Token

from infra.scope import Principal
from infra.settings import AuthSettings
from patrol.accounts import resolve_principal

__all__ = ["PUBLIC_PATHS", "CheckedToken", "TokenMinter", "build_jwt_auth"]

PUBLIC_PATHS = [
    "^/health$",
    "^/ready$",
    "^/metrics$",
    "^/schema",
    "^/api/v1/auth/token$",
    "^/api/v1/auth/refresh$",
]

_ACCESS = "access"
_DEVICE = "device"


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
    engine = connection.app.state.engine
    async with engine.connect() as conn:
        return await resolve_principal(conn, user_id, device_id=device_id)


class CheckedToken(Token):
    """A token whose signature check is remembered, keyed by its exact text.

    A phone sends the same bearer token with every request until it expires; checking the
    HMAC and parsing the JSON again each time is a fixed cost on every request. Only a token
    byte for byte equal to one already verified with the same secret is taken from memory,
    and its expiry and not-before times are checked again on every use. Who the token names
    is still resolved from the database on every request (``_retrieve_principal``).
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


def build_jwt_auth(settings: AuthSettings) -> JWTAuth[Principal, Token]:
    return JWTAuth[Principal, Token](
        token_cls=CheckedToken,
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

    def access_token(self, principal: Principal) -> str:
        return self.auth.create_token(
            identifier=str(principal.user_id),
            token_expiration=timedelta(seconds=self.settings.access_token_ttl_s),
            token_extras={
                "typ": _ACCESS,
                "role": principal.role.value,
                "cty": str(principal.county_id),
            },
        )

    def device_token(self, principal: Principal, device_id: uuid.UUID, ttl: timedelta) -> str:
        return self.auth.create_token(
            identifier=str(principal.user_id),
            token_expiration=ttl,
            token_unique_jwt_id=str(device_id),
            token_extras={"typ": _DEVICE, "cty": str(principal.county_id)},
        )
