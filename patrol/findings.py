"""Findings: what a finding may hold, and editing one the phone last saw at a version.

The input of recording a finding is :class:`patrol.sessions.FindingInput`
(:meth:`~patrol.sessions.PatrolService.record_findings`); both it and an edit go through
:func:`check_finding_fields`, so a finding holds the same values whichever way it came.

**Edits** (:func:`edit_finding`, :meth:`patrol.sessions.PatrolService.update_finding`):

* Who: the one who reported it, the crew of its patrol, captains and admins
  (``not_finding_editor``); a finding of another county does not exist for the caller
  (``finding_not_found``).
* ``version`` is the row's ``xmin``. When the edit names an older version, a field changed
  on both sides is a conflict (the server's values of those fields come back); ``base``
  (the editor's values of the edited fields before the edit) lets edits of different fields
  merge. Fields changed only on one side merge.
* An edit that changes nothing is ``unchanged``; an edit of the occupied area or of the
  start date screens the finding again (:meth:`patrol.finding_checks.FindingChecks.rescreen`).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from infra import error_codes as codes
from infra.scope import MANAGERS, Principal
from patrol._access import is_patrol_crew
from patrol.errors import FindingNotFoundError, InvalidPatrolInputError, NotPatrolOwnerError
from patrol.field_models import Finding, PatrolSession
from patrol.finding_checks import FindingChecks

__all__ = [
    "CONSTRUCTION_STATUSES",
    "FindingChanges",
    "FindingEdit",
    "FindingEdited",
    "check_finding_fields",
    "edit_finding",
]

CONSTRUCTION_STATUSES = ("levelled", "partly_built", "fully_built", "other")
_MAX_NAME = 200
_XMIN = text("SELECT xmin::text::bigint FROM patrol_findings WHERE id = :id")
_XMIN_LOCK = text(
    "SELECT xmin::text::bigint FROM patrol_findings WHERE id = :id AND county_id = :c FOR UPDATE"
)


@dataclass(frozen=True, slots=True)
class FindingChanges:
    """Editable fields of a finding; ``None`` means "not part of this edit"."""

    project_name: str | None = None
    builder: str | None = None
    construction_started_on: date | None = None
    construction_status: str | None = None
    occupied_area_m2: float | None = None
    note: str | None = None

    def given(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) is not None}


@dataclass(frozen=True, slots=True)
class FindingEdit:
    """Edit a finding the editor last saw at ``base_version``; ``base`` holds the editor's
    values of the edited fields before the edit (``None``: not known)."""

    finding_id: uuid.UUID
    base_version: int
    changes: FindingChanges
    base: FindingChanges | None = None


@dataclass(frozen=True, slots=True)
class FindingEdited:
    """``applied``, ``unchanged`` (the values were already so) or ``conflict``; ``version``
    the row's version after the edit (or the server's, on a conflict), ``server_values`` the
    server's values of the clashing fields."""

    finding_id: uuid.UUID
    version: int
    status: Literal["applied", "unchanged", "conflict"]
    server_values: dict[str, Any] = field(default_factory=dict)


def check_finding_fields(
    *,
    construction_status: str | None = None,
    occupied_area_m2: float | None = None,
    project_name: str | None = None,
) -> None:
    """The values a finding may hold (``None``: not given), for records and edits alike."""
    if construction_status is not None and construction_status not in CONSTRUCTION_STATUSES:
        raise InvalidPatrolInputError(
            f"construction_status must be one of {', '.join(CONSTRUCTION_STATUSES)}",
            code=codes.INVALID_STATUS,
            field="construction_status",
        )
    area = occupied_area_m2
    if area is not None and not (math.isfinite(area) and area >= 0):
        raise InvalidPatrolInputError("occupied area must be ≥ 0", field="occupied_area_m2")
    if project_name is not None and not (project_name.strip() and len(project_name) <= _MAX_NAME):
        raise InvalidPatrolInputError(
            f"project name must be 1-{_MAX_NAME} characters", field="project_name"
        )


async def edit_finding(
    db: AsyncSession, checks: FindingChecks, principal: Principal, edit: FindingEdit
) -> FindingEdited:
    """Apply ``edit`` (see the module docstring); the row stays locked until the end of the
    transaction."""
    version = await db.scalar(_XMIN_LOCK, {"id": edit.finding_id, "c": principal.county_id})
    row = (
        None if version is None else await db.get(Finding, edit.finding_id, populate_existing=True)
    )
    if row is None or version is None:
        raise FindingNotFoundError("finding not found")
    await _ensure_editor(db, principal, row)
    new = edit.changes.given()
    check_finding_fields(
        construction_status=new.get("construction_status"),
        occupied_area_m2=new.get("occupied_area_m2"),
        project_name=new.get("project_name"),
    )
    current = {k: getattr(row, k) for k in new}
    if version != edit.base_version:
        base = edit.base.given() if edit.base is not None else {}
        clashing = [
            k for k in new if current[k] != new[k] and (k not in base or current[k] != base[k])
        ]
        if clashing:
            return FindingEdited(row.id, version, "conflict", {k: current[k] for k in clashing})
    if all(current[k] == v for k, v in new.items()):
        return FindingEdited(row.id, version, "unchanged")
    for key, value in new.items():
        setattr(row, key, value)
    if {"occupied_area_m2", "construction_started_on"} & set(new):
        await checks.rescreen(row)  # the screening follows the area
    await db.flush()
    new_version = await db.scalar(_XMIN, {"id": row.id})
    assert new_version is not None  # the row is locked by this transaction
    return FindingEdited(row.id, new_version, "applied")


async def _ensure_editor(db: AsyncSession, principal: Principal, row: Finding) -> None:
    if principal.has_role(*MANAGERS) or row.reported_by == principal.user_id:
        return
    patrol = await db.get(PatrolSession, row.session_id)
    if patrol is not None and is_patrol_crew(principal, patrol):
        return
    raise NotPatrolOwnerError(
        "only the patrol's crew and captains may edit this finding", code=codes.NOT_FINDING_EDITOR
    )
