"""The domain error tree. Packages subclass these in their own ``errors.py``.

::

    DomainError                 code, detail, extra
    ├── NotFoundError           the thing does not exist *for this caller* (404)
    ├── ConflictError           state forbids it: duplicate, wrong step, already done (409)
    ├── InvalidInputError       well-formed but unacceptable input (422)
    ├── PermissionDeniedError   the caller's role may not do this (403)
    ├── AuthenticationError     bad credentials or token (401)
    ├── RateLimitedError        too many attempts; ``retry_after_s`` (429)
    └── UnavailableError        a dependency is down (503); ``retry_after_s``

``api/`` maps each branch to one HTTP status and an RFC 9457 body whose ``code`` is stable.
Every code, the classes' ``default_code`` and each ``code=`` a raise site passes, is a name
from the error catalogue (:mod:`infra.error_codes`), which lists the status each code is
answered with; ``tests/test_messages.py`` checks that the branch raised gives that status.

:class:`OutageLog` keeps the log of a dependency outage to two lines: a warning when it is
first seen and a line when it is over, however many requests fail in between.
"""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

import structlog

from infra import error_codes as codes

__all__ = [
    "AuthenticationError",
    "ConflictError",
    "DomainError",
    "InvalidInputError",
    "NotFoundError",
    "OutageLog",
    "PermissionDeniedError",
    "RateLimitedError",
    "UnavailableError",
]


class DomainError(Exception):
    default_code: ClassVar[str] = codes.DOMAIN_ERROR

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.extra = extra


class NotFoundError(DomainError):
    default_code = codes.NOT_FOUND


class ConflictError(DomainError):
    default_code = codes.CONFLICT


class InvalidInputError(DomainError):
    default_code = codes.INVALID_INPUT


class PermissionDeniedError(DomainError):
    default_code = codes.PERMISSION_DENIED


class AuthenticationError(DomainError):
    default_code = codes.NOT_AUTHENTICATED


class RateLimitedError(DomainError):
    default_code = codes.RATE_LIMITED

    def __init__(self, detail: str, *, retry_after_s: int, code: str | None = None) -> None:
        super().__init__(detail, code=code, retry_after_s=retry_after_s)
        self.retry_after_s = retry_after_s


class UnavailableError(DomainError):
    """A dependency (database, object store) cannot serve now; the caller retries later."""

    default_code = codes.UNAVAILABLE
    default_retry_after_s: ClassVar[int] = 5

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        retry_after_s: int | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail, code=code, **extra)
        self.retry_after_s = self.default_retry_after_s if retry_after_s is None else retry_after_s


_log = structlog.get_logger(__name__)


class OutageLog:
    """Whether a dependency is down, logged once when that changes (not once per failure).

    ``down`` is called on every failure and ``up`` on every success; both are a flag test
    unless the state changes, so they are cheap enough for every call.
    """

    __slots__ = ("_lock", "_since", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._since: float | None = None
        self._lock = threading.Lock()

    @property
    def is_down(self) -> bool:
        return self._since is not None

    def down(self, reason: str) -> None:
        if self._since is not None:
            return
        with self._lock:
            if self._since is not None:
                return
            self._since = time.monotonic()
        _log.warning("dependency.unavailable", dependency=self.name, reason=reason)

    def up(self) -> None:
        if self._since is None:
            return
        with self._lock:
            since, self._since = self._since, None
        if since is not None:
            _log.warning(
                "dependency.available_again",
                dependency=self.name,
                down_s=round(time.monotonic() - since, 1),
            )
