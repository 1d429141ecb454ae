"""The county's findings as a reviewer reads them: filtered, newest first, a page at a time.

``ListFindings`` answers the findings of one patrol; captains and the security squad review
findings across the county, by area, time, screening and flags (``ListCountyFindings``).
What a caller reads is the one finding read rule (:func:`patrol.policy.finding_read`, with
the squad's view registered by :mod:`evidence.cases.access`): captains and admins every
finding of the county, an inspector those of the patrols he ran, joined or whose area he
leads and those he reported, the squad the flagged ones, those carrying a current screening
suggestion and the sources of the cases it sees; everyone else none. The screening and flag
filters are the same conditions the squad's view is made of (:func:`finding_suggested`,
:func:`finding_flagged`).

Pages are keyset pages by ``(found_at, id)`` descending: pass ``next_cursor`` back as
``cursor``; a cursor this server did not issue is 422 ``invalid_cursor``.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, exists, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.access import finding_flagged, finding_suggested
from infra import error_codes as codes
from infra.errors import InvalidInputError
from infra.scope import Principal, scoped
from patrol.field_models import Finding, PatrolSession
from patrol.policy import finding_read, read_clause

__all__ = ["MAX_PAGE", "FindingFilter", "FindingPage", "list_county_findings"]

#: The most findings one page holds.
MAX_PAGE = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class FindingFilter:
    """Filters of :func:`list_county_findings` (all optional, combined with AND); times are
    the finding's ``found_at`` (``found_from`` inclusive, ``found_to`` exclusive)."""

    patrol_id: uuid.UUID | None = None
    area_id: uuid.UUID | None = None  # the contract area of the finding's patrol
    township_id: uuid.UUID | None = None
    reported_by: uuid.UUID | None = None
    found_from: datetime | None = None
    found_to: datetime | None = None
    suggested: bool | None = None  # with (or without) a current screening suggestion
    flagged: bool | None = None  # flagged (or not) for criminal referral


@dataclass(frozen=True, slots=True)
class FindingPage:
    """Newest first; ``next_cursor`` is ``None`` on the last page. The items are the patrol
    package's finding records (their wire form is the patrol contract's ``Finding``)."""

    items: list[Finding]
    next_cursor: str | None = None


def _aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        msg = f"{field} must carry a time zone offset"
        raise InvalidInputError(msg, code=codes.INVALID_TIME, field=field)
    return value.astimezone(UTC)


def _encode_cursor(found_at: datetime, finding_id: uuid.UUID) -> str:
    raw = f"{found_at.isoformat()}|{finding_id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        when, ident = base64.urlsafe_b64decode(cursor.encode("ascii")).decode().split("|", 1)
        found_at = datetime.fromisoformat(when)
        if found_at.tzinfo is None:
            raise ValueError(when)
        return found_at, uuid.UUID(ident)
    except (ValueError, UnicodeError) as exc:
        msg = "the cursor is not one this server issued"
        raise InvalidInputError(msg, code=codes.INVALID_CURSOR, field="cursor") from exc


def _conditions(f: FindingFilter) -> list[Any]:
    out: list[Any] = []
    if f.patrol_id is not None:
        out.append(Finding.session_id == f.patrol_id)
    if f.area_id is not None:
        out.append(
            exists().where(
                PatrolSession.id == Finding.session_id, PatrolSession.area_id == f.area_id
            )
        )
    if f.township_id is not None:
        out.append(Finding.township_id == f.township_id)
    if f.reported_by is not None:
        out.append(Finding.reported_by == f.reported_by)
    if f.found_from is not None:
        out.append(Finding.found_at >= _aware(f.found_from, "found_from"))
    if f.found_to is not None:
        out.append(Finding.found_at < _aware(f.found_to, "found_to"))
    if f.suggested is not None:
        out.append(finding_suggested() if f.suggested else not_(finding_suggested()))
    if f.flagged is not None:
        out.append(finding_flagged() if f.flagged else not_(finding_flagged()))
    return out


async def list_county_findings(
    session: AsyncSession,
    principal: Principal,
    filters: FindingFilter | None = None,
    *,
    limit: int = 50,
    cursor: str | None = None,
) -> FindingPage:
    """The findings of the caller's county it may read (see the module docstring), filtered,
    newest first, a keyset page of at most ``limit`` (1..:data:`MAX_PAGE`)."""
    stmt = scoped(select(Finding), Finding, principal).where(
        read_clause(finding_read(), Finding.__tablename__, principal),
        *_conditions(filters or FindingFilter()),
    )
    if cursor is not None:
        when, ident = _decode_cursor(cursor)
        stmt = stmt.where(
            or_(Finding.found_at < when, and_(Finding.found_at == when, Finding.id < ident))
        )
    size = max(1, min(limit, MAX_PAGE))
    stmt = stmt.order_by(Finding.found_at.desc(), Finding.id.desc()).limit(size + 1)
    rows = list((await session.scalars(stmt)).all())
    next_cursor = None
    if len(rows) > size:
        rows = rows[:size]
        next_cursor = _encode_cursor(rows[-1].found_at, rows[-1].id)
    return FindingPage(rows, next_cursor)
