"""The domain error tree. Packages subclass these in their own ``errors.py``.

::

    DomainError                 code, detail, extra
    ├── NotFoundError           the thing does not exist *for this caller* (404)
    ├── ConflictError           state forbids it: duplicate, wrong step, already done (409)
    ├── InvalidInputError       well-formed but unacceptable input (422)
    ├── PermissionDeniedError   the caller's role may not do this (403)
    ├── AuthenticationError     bad credentials or token (401)
    ├── RateLimitedError        too many attempts; ``retry_after_s`` (429)
    └── UnavailableError        a dependency is down (503)

``api/`` maps each branch to one HTTP status and an RFC 9457 body whose ``code`` is stable.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AuthenticationError",
    "ConflictError",
    "DomainError",
    "InvalidInputError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "UnavailableError",
]


class DomainError(Exception):
    default_code: ClassVar[str] = "domain_error"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.extra = extra


class NotFoundError(DomainError):
    default_code = "not_found"


class ConflictError(DomainError):
    default_code = "conflict"


class InvalidInputError(DomainError):
    default_code = "invalid_input"


class PermissionDeniedError(DomainError):
    default_code = "permission_denied"


class AuthenticationError(DomainError):
    default_code = "not_authenticated"


class RateLimitedError(DomainError):
    default_code = "rate_limited"

    def __init__(self, detail: str, *, retry_after_s: int, code: str | None = None) -> None:
        super().__init__(detail, code=code, retry_after_s=retry_after_s)
        self.retry_after_s = retry_after_s


class UnavailableError(DomainError):
    default_code = "unavailable"
