"""Every error leaves the API as RFC 9457 problem details with a stable ``code``.

A dependency that is down or hung is a 503 with ``Retry-After`` (``database_unavailable``,
``storage_unavailable``), never a 500, and logs no traceback: the outage itself is logged
once where it is seen (``infra.db``, ``infra.objectstore``).

``title`` and ``detail`` (and each field error's ``message``) are in the request's language,
from the one message catalogue (:mod:`infra.messages`): Simplified Chinese unless
``Accept-Language`` prefers English; ``Content-Language`` says which. ``code`` never changes.
"""

from __future__ import annotations

from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from infra import error_codes as codes
from infra.db import database_unavailable
from infra.errors import (
    AuthenticationError,
    ConflictError,
    DomainError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    UnavailableError,
)
from infra.messages import DEFAULT_LANG, Lang, negotiate, render, title, validation_message
from mobile_contract.naming import camel
from mobile_contract.v1.common import FieldError, Problem

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "content_language",
    "handle_exception",
    "problem_response",
    "request_lang",
]

log = structlog.get_logger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"

_DOMAIN_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (NotFoundError, 404),
    (ConflictError, 409),
    (InvalidInputError, 422),
    (PermissionDeniedError, 403),
    (AuthenticationError, 401),
    (RateLimitedError, 429),
    (UnavailableError, 503),
)

_HTTP_CODES = {
    400: codes.BAD_REQUEST,
    401: codes.NOT_AUTHENTICATED,
    403: codes.PERMISSION_DENIED,
    404: codes.NOT_FOUND,
    405: codes.METHOD_NOT_ALLOWED,
    406: codes.NOT_ACCEPTABLE,
    413: codes.BODY_TOO_LARGE,
    415: codes.UNSUPPORTED_MEDIA_TYPE,
    429: codes.RATE_LIMITED,
}


def request_lang(request: Request[Any, Any, Any] | None) -> Lang:
    """The language to answer ``request`` in (Chinese unless ``Accept-Language`` prefers
    English)."""
    if request is None:
        return DEFAULT_LANG
    return negotiate(request.headers.get("accept-language"))


def content_language(lang: Lang) -> dict[str, str]:
    """The headers that say which language an answer is in, and that it depends on the ask."""
    return {"Content-Language": "zh-CN" if lang == "zh" else "en", "Vary": "Accept-Language"}


def problem_response(
    request: Request[Any, Any, Any] | None,
    *,
    status: int,
    code: str,
    detail: str,
    errors: list[FieldError] | None = None,
    retry_after_s: int | None = None,
    headers: dict[str, str] | None = None,
    details: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
) -> Response[Problem]:
    """A problem answer; ``detail`` (as raised, usually English) is kept for English, and the
    catalogue's text for ``code``, filled from ``params``, is used for Chinese."""
    lang = request_lang(request)
    detail = render(code, lang, params, fallback=detail)
    request_id = None
    if request is not None:
        request_id = request.scope.get("state", {}).get("request_id")
    body = Problem(
        type=f"urn:patrol:problem:{code}",
        title=title(status, lang),
        status=status,
        detail=detail,
        code=code,
        instance=request.url.path if request is not None else None,
        request_id=request_id,
        errors=errors,
        retry_after_s=retry_after_s,
        details=details,
    )
    hdrs = {**(headers or {}), **content_language(lang)}
    if retry_after_s is not None:
        hdrs["Retry-After"] = str(retry_after_s)
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=hdrs)


def _details(extra: dict[str, Any]) -> dict[str, Any] | None:
    """A domain error's extra facts as JSON-safe camelCase members (``field`` goes to errors)."""
    out: dict[str, Any] = {}
    for key, value in extra.items():
        if key in {"field", "retry_after_s"}:
            continue
        try:
            out[camel(key)] = msgspec.to_builtins(value, enc_hook=str)
        except (TypeError, ValueError):
            out[camel(key)] = str(value)
    return out or None


def _retry_after(extra: dict[str, Any]) -> int | None:
    """When another error says the caller may retry (``sync_busy``): its ``retry_after_s``."""
    value = extra.get("retry_after_s")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _validation_errors(extra: Any, lang: Lang) -> list[FieldError]:
    errors: list[FieldError] = []
    if isinstance(extra, list):
        for item in extra:
            if isinstance(item, dict):
                message = validation_message(str(item.get("message")), lang)
                errors.append(FieldError(field=item.get("key"), message=message))
    return errors


def _joined_zh(errors: list[FieldError]) -> str:
    """The Chinese detail of a schema error: each field with its message."""
    each = "；".join(f"{e.field}：{e.message}" if e.field else e.message for e in errors)
    return f"{render(codes.VALIDATION_ERROR, 'zh')}：{each}"


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    if not isinstance(exc, DomainError | HTTPException):
        exc = database_unavailable(exc) or exc
    if isinstance(exc, DomainError):
        status = next(s for cls, s in _DOMAIN_STATUS if isinstance(exc, cls))
        field = exc.extra.get("field")
        detail = render(exc.code, request_lang(request), exc.extra, fallback=exc.detail)
        errors = [FieldError(field=str(field), message=detail)] if field else None
        retry = (
            exc.retry_after_s
            if isinstance(exc, RateLimitedError | UnavailableError)
            else _retry_after(exc.extra)
        )
        return problem_response(
            request,
            status=status,
            code=exc.code,
            detail=detail,
            errors=errors,
            retry_after_s=retry,
            details=_details(exc.extra),
            params=exc.extra,
        )
    if isinstance(exc, ValidationException):
        lang = request_lang(request)
        english = _validation_errors(exc.extra, "en")
        detail = "; ".join(e.message for e in english) or str(exc.detail)
        code = (
            codes.MALFORMED_BODY
            if "decode" in detail.lower() or "JSON" in detail
            else codes.VALIDATION_ERROR
        )
        errors = _validation_errors(exc.extra, lang)
        if lang == "zh":
            # the parser's own words stay (technical, English) after the Chinese summary
            why = detail.partition(": ")[2] or detail
            detail = _joined_zh(errors) if errors else f"{render(code, lang)}（{why}）"
        return problem_response(request, status=400, code=code, detail=detail, errors=errors)
    if isinstance(exc, HTTPException):
        status = exc.status_code
        code = _HTTP_CODES.get(status, f"http_{status}")
        return problem_response(
            request,
            status=status,
            code=code,
            detail=str(exc.detail),
            headers=dict(exc.headers or {}),
        )
    log.exception("request.failed", path=request.url.path, error=type(exc).__name__)
    return problem_response(
        request,
        status=HTTP_500_INTERNAL_SERVER_ERROR,
        code=codes.INTERNAL_ERROR,
        detail="an unexpected error occurred; it has been logged with the request id",
    )
