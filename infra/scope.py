"""Who is asking, and the one place county isolation is applied to queries.

Every query over county-owned rows goes through :func:`scoped`, so a caller of county A can
never read a county-B row: such rows simply do not exist for them (404).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import Any, TypeVarTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Select

from infra import error_codes as codes
from infra.errors import PermissionDeniedError

__all__ = [
    "COUNTY_TIMEZONE",
    "COUNTY_TZ",
    "MANAGERS",
    "Principal",
    "Role",
    "require_role",
    "scoped",
]

_Ts = TypeVarTuple("_Ts")


class Role(enum.StrEnum):
    INSPECTOR = "inspector"
    JOINT_TEAM = "joint_team"
    CAPTAIN = "captain"
    SECURITY_SQUAD = "security_squad"
    ADMIN = "admin"
    CLUE_DESK = "clue_desk"
    #: 检察监督: the procuratorate's read-only supervision of referred cases (两法衔接); it
    #: may call only the operations ``api.guards`` opens to it, and every read is audited.
    PROCURATORATE = "procuratorate"


#: Who manages a county's field work: captains and admins (areas, plans, sites, rosters,
#: cases, the alerts feed, everything of the county to read).
MANAGERS = (Role.CAPTAIN, Role.ADMIN)

#: The counties' time zone (China Standard Time: UTC+8, no daylight saving since 1991):
#: local days, weeks, months and nights. :class:`patrol.config.PatrolConfig` may run a county
#: on another.
COUNTY_TIMEZONE = "Asia/Shanghai"
COUNTY_TZ = ZoneInfo(COUNTY_TIMEZONE)


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: uuid.UUID
    county_id: uuid.UUID
    role: Role
    username: str

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles


def scoped(stmt: Select[*_Ts], model: Any, principal: Principal) -> Select[*_Ts]:
    """Restrict ``stmt`` to rows of ``model`` in the caller's county."""
    return stmt.where(model.county_id == principal.county_id)


def require_role(principal: Principal, *roles: Role, action: str) -> None:
    """Raise ``PermissionDeniedError`` unless the caller has one of ``roles``."""
    if principal.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise PermissionDeniedError(
            f"only {allowed} may {action}", code=codes.ROLE_NOT_ALLOWED, allowed_roles=list(roles)
        )
