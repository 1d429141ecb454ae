"""Need-to-know for cases and evidence: one rule per record kind, for every path.

Each rule is written once, as SQLAlchemy conditions per role, and rendered two ways from the
same definition:

* for a known caller (REST, services): :func:`case_visible`, :func:`evidence_visible` pick
  the caller's branch in Python, so PostgreSQL plans only what applies;
* for SQL that learns the caller at run time (sync pull): :func:`visible_cases_sql` renders
  the whole rule with the role as a SQL expression (``CASE``-like ``OR`` of the branches).

Within the caller's county (county isolation is :func:`infra.scope.scoped`'s):

========================  ===============================================================
record, role              rule
========================  ===============================================================
case: captain, admin      every case
case: security squad      flagged (the case or the finding it came from), carrying a
                          current screening suggestion, or referred
case: inspector, joint    opened by them, or they are on its team
finding: security squad   flagged, carrying a current screening suggestion, or the source
                          of a case the squad sees (besides who reads its patrol)
evidence: captain, admin  all
evidence: anyone else     their own uploads; evidence of patrols they lead or accompany;
                          evidence of cases they may see (named on upload or linked)
========================  ===============================================================

Writing evidence references (``CreateUpload``), :func:`reference_allowed`:

* a case: captains/admins any; the squad a flagged or referred case; inspectors and joint
  members cases they opened or whose team they are on;
* a patrol: captains/admins any; anyone else patrols they lead or accompany;
* a finding: captains/admins any; anyone else findings they reported or found on patrols they
  lead or accompany; the squad also flagged findings;
* a mine site: any site of the county register (reference data everyone patrols against).

Anything else — another county's record, an id that exists nowhere, a record out of scope —
is the same refusal (``reference_not_found``): the answer never says which.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    exists,
    false,
    literal,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.types import Uuid

from evidence.case_models import (
    Case,
    CaseEvidence,
    CaseTeamMember,
    Referral,
    ReferralFlag,
    ReferralSuggestion,
    SourceKind,
)
from evidence.models import Evidence, Upload
from geofence.models import MineSite
from infra.scope import Principal, Role
from patrol.field_models import Finding, PatrolSession
from patrol.policy import register_colleagues, register_finding_readers

__all__ = [
    "MANAGERS",
    "Caller",
    "caller_of",
    "case_flagged",
    "case_referred",
    "case_suggested",
    "case_visible",
    "evidence_visible",
    "finding_flagged",
    "finding_suggested",
    "on_case_team",
    "on_patrol",
    "reference_allowed",
    "squad_sees_finding",
    "visible_cases_sql",
]

MANAGERS = (Role.CAPTAIN, Role.ADMIN)

Rules = Sequence[tuple[tuple[Role, ...], ColumnElement[bool]]]
"""``(roles, condition)``: the condition that holds for callers of those roles."""


class Caller:
    """Who asks, as SQL: ``uid`` an expression of the user id, ``role`` either the known
    :class:`Role` or a SQL expression of it (then every branch is rendered)."""

    __slots__ = ("role", "uid")

    def __init__(self, uid: ColumnElement[Any], role: Role | ColumnElement[Any]) -> None:
        self.uid = uid
        self.role = role

    def pick(self, rules: Rules) -> ColumnElement[bool]:
        """The condition of the caller's role (known role), or all of them keyed on the role."""
        if isinstance(self.role, Role):
            for roles, condition in rules:
                if self.role in roles:
                    return condition
            return false()
        role = self.role
        return or_(*(and_(role.in_([r.value for r in roles]), cond) for roles, cond in rules))


# Two people on the team of one case work together: they find each other in the directory,
# with phone numbers (patrol.policy's directory rule).
register_colleagues(
    """EXISTS (SELECT 1 FROM case_team_members nk_ct1 JOIN case_team_members nk_ct2
        ON nk_ct2.case_id = nk_ct1.case_id
        WHERE nk_ct1.user_id = {t}.id AND nk_ct2.user_id = {uid})""",
    shares_phone=True,
)


def caller_of(principal: Principal) -> Caller:
    return Caller(literal(principal.user_id, Uuid()), principal.role)


# -- the parts of the rules ----------------------------------------------------------------------
def case_flagged() -> ColumnElement[bool]:
    """The case (or the finding it came from) carries a referral flag."""
    return exists().where(
        or_(
            ReferralFlag.case_id == Case.id,
            and_(
                Case.source_kind == SourceKind.FINDING.value,
                ReferralFlag.finding_id == Case.source_id,
                ReferralFlag.county_id == Case.county_id,
            ),
        )
    )


def case_referred() -> ColumnElement[bool]:
    return exists().where(Referral.case_id == Case.id)


def case_suggested() -> ColumnElement[bool]:
    """The case carries a current (not superseded) screening suggestion."""
    return exists().where(
        ReferralSuggestion.case_id == Case.id, ReferralSuggestion.superseded_at.is_(None)
    )


def on_case_team(uid: ColumnElement[Any]) -> ColumnElement[bool]:
    return exists().where(CaseTeamMember.case_id == Case.id, CaseTeamMember.user_id == uid)


def on_patrol(patrol_id: Any, uid: ColumnElement[Any]) -> ColumnElement[bool]:
    """``uid`` leads the patrol ``patrol_id`` or accompanies it."""
    return exists().where(
        PatrolSession.id == patrol_id,
        or_(PatrolSession.inspector_id == uid, uid == PatrolSession.companion_ids.any_()),
    )


def finding_flagged(finding: Any = Finding) -> ColumnElement[bool]:
    """``finding`` (the model or an alias of it) carries a referral flag."""
    return exists().where(
        ReferralFlag.finding_id == finding.id, ReferralFlag.county_id == finding.county_id
    )


def finding_suggested(finding: Any = Finding) -> ColumnElement[bool]:
    """``finding`` (the model or an alias) carries a current screening suggestion."""
    return exists().where(
        ReferralSuggestion.finding_id == finding.id,
        ReferralSuggestion.county_id == finding.county_id,
        ReferralSuggestion.superseded_at.is_(None),
    )


def squad_sees_finding(finding: Any = Finding) -> ColumnElement[bool]:
    """The squad's view of findings: flagged, carrying a current screening suggestion, or the
    source of a case it may see (flagged, carrying a current screening suggestion, or
    referred). ``finding``: the model or an alias. The finding read rule of
    :mod:`patrol.policy` gets it as SQL (:func:`_squad_finding_sql`), so REST lists, reads and
    the sync pull apply this one definition."""
    from_case = exists(
        select(Case.id)
        .where(
            Case.source_kind == SourceKind.FINDING.value,
            Case.source_id == finding.id,
            Case.county_id == finding.county_id,
            or_(case_flagged(), case_suggested(), case_referred()),
        )
        .correlate(finding)
    )
    return or_(finding_flagged(finding), finding_suggested(finding), from_case)


def _compiled(stmt: Any) -> str:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    return str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


_ROW = "nk_row_placeholder"


def _squad_finding_sql() -> str:
    """:func:`squad_sees_finding` as a branch of ``patrol.policy``'s finding read rule: the
    caller (``{uid}``) is of the security squad and the finding row ``{t}`` is in its view."""
    alias = aliased(Finding, name="nk_sf")
    stmt = (
        select(literal_column("1", Integer()))
        .select_from(alias)
        .where(alias.id == literal_column(f"{_ROW}.id"), squad_sees_finding(alias))
    )
    view = _compiled(stmt).replace("{", "{{").replace("}", "}}").replace(_ROW, "{t}")
    squad = Role.SECURITY_SQUAD.value
    return f"""(EXISTS (SELECT 1 FROM users nk_sq WHERE nk_sq.id = {{uid}}
      AND nk_sq.role = '{squad}') AND EXISTS ({view}))"""  # noqa: S608 - constant SQL


# The squad reads the findings of its view (REST and sync, through patrol.policy's rule).
register_finding_readers(_squad_finding_sql())


# -- cases ---------------------------------------------------------------------------------------
def _case_rules(uid: ColumnElement[Any]) -> Rules:
    return (
        (MANAGERS, true()),
        ((Role.SECURITY_SQUAD,), or_(case_flagged(), case_suggested(), case_referred())),
        ((Role.INSPECTOR, Role.JOINT_TEAM), or_(Case.opened_by == uid, on_case_team(uid))),
    )


def _case_write_rules(uid: ColumnElement[Any]) -> Rules:
    return (
        (MANAGERS, true()),
        ((Role.SECURITY_SQUAD,), or_(case_flagged(), case_referred())),
        ((Role.INSPECTOR, Role.JOINT_TEAM), or_(Case.opened_by == uid, on_case_team(uid))),
    )


def case_visible(caller: Caller) -> ColumnElement[bool]:
    """Cases (of the caller's county) the caller may read."""
    return caller.pick(_case_rules(caller.uid))


def visible_cases_sql(*, county: str, uid: str, role: str) -> str:
    """``SELECT cases.id FROM cases WHERE ...``: the case rule as SQL text, for queries that
    know the caller only at run time (``county``, ``uid``, ``role`` are SQL expressions)."""
    caller = Caller(literal_column(uid, Uuid()), literal_column(role, String()))
    stmt = select(Case.id).where(Case.county_id == literal_column(county), case_visible(caller))
    return _compiled(stmt)


# -- evidence ------------------------------------------------------------------------------------
def evidence_visible(caller: Caller) -> ColumnElement[bool]:
    """Evidence (joined with its ``Upload``) the caller may read, within the county."""
    uid = caller.uid
    of_case = exists(
        select(Case.id)
        .where(
            Case.county_id == Evidence.county_id,
            or_(
                Case.id == Upload.case_id,
                exists()
                .where(CaseEvidence.case_id == Case.id, CaseEvidence.evidence_id == Evidence.id)
                .correlate_except(CaseEvidence),
            ),
            case_visible(caller),
        )
        .correlate(Evidence, Upload)
    )
    someone = or_(Upload.uploader_id == uid, on_patrol(Upload.patrol_session_id, uid), of_case)
    return caller.pick(
        (
            (MANAGERS, true()),
            ((Role.SECURITY_SQUAD, Role.INSPECTOR, Role.JOINT_TEAM), someone),
        )
    )


# -- references ----------------------------------------------------------------------------------
async def reference_allowed(
    session: AsyncSession, principal: Principal, kind: str, record_id: uuid.UUID
) -> bool:
    """May the caller attach evidence to this ``case``, ``patrol``, ``finding`` or
    ``mine_site``? ``False`` for anything of another county, unknown or out of scope."""
    caller = caller_of(principal)
    uid = caller.uid
    county = principal.county_id
    cond: ColumnElement[bool]
    if kind == "case":
        cond = and_(
            Case.id == record_id,
            Case.county_id == county,
            caller.pick(_case_write_rules(uid)),
        )
    elif kind == "patrol":
        cond = and_(
            PatrolSession.id == record_id,
            PatrolSession.county_id == county,
            caller.pick(
                (
                    (MANAGERS, true()),
                    (
                        (Role.SECURITY_SQUAD, Role.INSPECTOR, Role.JOINT_TEAM),
                        or_(
                            PatrolSession.inspector_id == uid,
                            uid == PatrolSession.companion_ids.any_(),
                        ),
                    ),
                )
            ),
        )
    elif kind == "finding":
        mine = or_(Finding.reported_by == uid, on_patrol(Finding.session_id, uid))
        cond = and_(
            Finding.id == record_id,
            Finding.county_id == county,
            caller.pick(
                (
                    (MANAGERS, true()),
                    ((Role.SECURITY_SQUAD,), or_(mine, finding_flagged())),
                    ((Role.INSPECTOR, Role.JOINT_TEAM), mine),
                )
            ),
        )
    elif kind == "mine_site":
        cond = and_(MineSite.id == record_id, MineSite.county_id == county)
    else:  # pragma: no cover - callers name one of the four
        msg = f"unknown reference kind {kind!r}"
        raise ValueError(msg)
    return bool(await session.scalar(select(exists().where(cond))))
