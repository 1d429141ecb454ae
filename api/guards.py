"""Deny by default for external roles: the one place their reach is decided.

An external role (the procuratorate, 检察监督) is not part of the brigade: it may call only the
operations named here, by operation id, and every other operation — those that exist today
and every one added later — answers 403 ``role_not_allowed`` before its handler runs. The
allowlist opens an operation; what the role then sees within it is the domain's need-to-know
(:mod:`evidence.cases.access`), and every read it makes is audited by the domain service.

Operations that take no token (``api.auth.PUBLIC_PATHS``: log-in, refresh, health) have no
caller and are not affected. The guard is installed once, on the application
(``api.app.create_app``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from infra import error_codes as codes
from infra.errors import PermissionDeniedError
from infra.scope import Principal, Role

__all__ = ["ROLE_OPERATIONS", "external_role_guard", "open_to"]

#: The procuratorate's operations: who it is, its session, the referred cases with their
#: steps and deadlines, the referrals with the overdue feed, the package of a referred case
#: and the keys that verify it, and what the console needs to start.
PROCURATORATE_OPERATIONS = frozenset(
    {
        "CreateToken",
        "RefreshToken",
        "GetMe",
        "GetConsoleConfig",
        "ListCases",
        "GetCase",
        "ListCaseSteps",
        "GetCaseProcedure",
        "ListReferrals",
        "GetReferral",
        "ListOverdueReferralSteps",
        "ExportReferralPackage",
        "GetSigningKeys",
    }
)

#: Roles held to an allowlist, with the operations open to them. Roles not named here are
#: not restricted by this guard (their rules live in the domain services).
ROLE_OPERATIONS: Mapping[Role, frozenset[str]] = MappingProxyType(
    {Role.PROCURATORATE: PROCURATORATE_OPERATIONS}
)


def open_to(role: Role, operation_id: str) -> bool:
    """Whether this guard lets ``role`` call ``operation_id``."""
    allowed = ROLE_OPERATIONS.get(role)
    return allowed is None or operation_id in allowed


async def external_role_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Refuse an allowlisted role every operation its list does not name.

    A coroutine function on purpose: Litestar runs a plain function guard on a worker
    thread, a hop that cost every request more than the check itself.
    """
    user = connection.scope.get("user")  # unset on the routes that take no token
    if not isinstance(user, Principal) or user.role not in ROLE_OPERATIONS:
        return
    operation_id = getattr(handler, "operation_id", None)  # a handler without one: closed
    if isinstance(operation_id, str) and open_to(user.role, operation_id):
        return
    raise PermissionDeniedError(
        f"the {user.role.value} role may not call {operation_id or handler}",
        code=codes.ROLE_NOT_ALLOWED,
    )
