"""Need-to-know for cases, and what the evidence core needs to know of them.

Written once as SQLAlchemy conditions per role, rendered two ways from the same definition:
for a known caller (REST, services) :func:`case_visible` picks the caller's branch; for SQL
that learns the caller at run time (sync pull) :func:`visible_cases_sql` renders the whole
rule. Within the caller's county:

========================  ===============================================================
record, role              rule
========================  ===============================================================
case: captain, admin      every case
case: security squad      flagged (the case or the finding it came from), carrying a
                          current screening suggestion, or referred
case: inspector, joint    opened by them, or they are on its team
case: procuratorate       referred (a referral exists, whatever its state: from the team's
                          report on); read-only, party ID numbers masked
                          (:data:`MASKED_ID_ROLES`), every read audited
                          (:mod:`evidence.cases.supervision`)
finding: security squad   flagged, carrying a current screening suggestion, or the source
                          of a case the squad sees (besides who reads its patrol)
========================  ===============================================================

Registered on import into the rules below this package:

* :mod:`evidence.access`: evidence of a case the caller may see (named on upload or linked),
  and a case's linked evidence for ``ListEvidence``'s case filter;
  for the clue desk, evidence of a tip-off (named on upload or linked), and tip-offs as an
  evidence reference (clue desk, captains, admins);
  a case as an evidence reference (captains/admins any; the squad a flagged or referred case;
  inspectors and joint members cases they opened or whose team they are on); the squad may
  reference flagged findings;
* :mod:`patrol.policy`: the squad reads the findings of its view; two people on one case
  team find each other in the directory.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    exists,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import aliased
from sqlalchemy.types import Uuid

from evidence.access import (
    MANAGERS,
    Caller,
    Rules,
    register_evidence_readers,
    register_finding_references,
    register_linked_evidence,
    register_reference_kind,
)
from evidence.cases.models import (
    Case,
    CaseEvidence,
    CaseTeamMember,
    Referral,
    ReferralFlag,
    ReferralSuggestion,
    SourceKind,
)
from evidence.cases.tip_off_models import TipOff, TipOffEvidence
from evidence.models import Evidence, Upload
from infra.scope import Role
from patrol.field_models import Finding
from patrol.policy import register_colleagues, register_finding_readers

__all__ = [
    "MASKED_ID_ROLES",
    "case_flagged",
    "case_referred",
    "case_suggested",
    "case_visible",
    "finding_flagged",
    "finding_suggested",
    "on_case_team",
    "squad_sees_finding",
    "visible_cases_sql",
]


#: Roles that read a party's ID number or credit code masked to its last four characters (in
#: cases, penalty content and packages): joint-team members (police and land officers outside
#: the brigade's case file) and the procuratorate supervising referrals.
MASKED_ID_ROLES = (Role.JOINT_TEAM, Role.PROCURATORATE)


# Two people on the team of one case work together: they find each other in the directory,
# with phone numbers (patrol.policy's directory rule).
register_colleagues(
    """EXISTS (SELECT 1 FROM case_team_members nk_ct1 JOIN case_team_members nk_ct2
        ON nk_ct2.case_id = nk_ct1.case_id
        WHERE nk_ct1.user_id = {t}.id AND nk_ct2.user_id = {uid})""",
    shares_phone=True,
)


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
        ((Role.PROCURATORATE,), case_referred()),
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


def _evidence_of_visible_cases(caller: Caller) -> ColumnElement[bool]:
    """Evidence (joined with its ``Upload``) of a case the caller may see: named on upload or
    linked to the case."""
    return exists(
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


def _case_reference(caller: Caller, county: uuid.UUID, record_id: uuid.UUID) -> ColumnElement[bool]:
    """Captains/admins any case; the squad a flagged or referred case; inspectors and joint
    members cases they opened or whose team they are on."""
    return and_(
        Case.id == record_id, Case.county_id == county, caller.pick(_case_write_rules(caller.uid))
    )


def _linked_to_case(case_id: uuid.UUID) -> ColumnElement[bool]:
    """Evidence (joined with its ``Upload``) linked to the case after upload."""
    return (
        exists()
        .where(CaseEvidence.case_id == case_id, CaseEvidence.evidence_id == Evidence.id)
        .correlate_except(CaseEvidence)
    )


register_evidence_readers(_evidence_of_visible_cases)
register_reference_kind("case", _case_reference)
register_linked_evidence("case", _linked_to_case)


# -- tip-offs ------------------------------------------------------------------------------------
_TIP_OFF_ROLES = (Role.CLUE_DESK, Role.CAPTAIN, Role.ADMIN)


def _evidence_of_tip_offs(caller: Caller) -> ColumnElement[bool]:
    """Evidence (joined with its ``Upload``) of a tip-off, for the clue desk (captains and
    admins see all evidence): named on upload or linked to the clue."""
    of_clue = or_(
        Upload.tip_off_id.is_not(None),
        exists().where(TipOffEvidence.evidence_id == Evidence.id).correlate_except(TipOffEvidence),
    )
    return caller.pick(((_TIP_OFF_ROLES, of_clue),))


def _tip_off_reference(
    caller: Caller, county: uuid.UUID, record_id: uuid.UUID
) -> ColumnElement[bool]:
    """The clue desk, captains and admins attach evidence to the county's tip-offs."""
    clue = exists().where(TipOff.id == record_id, TipOff.county_id == county)
    return caller.pick(((_TIP_OFF_ROLES, clue),))


register_evidence_readers(_evidence_of_tip_offs)
register_reference_kind("tip_off", _tip_off_reference)
# the squad may attach evidence to flagged findings besides its own
register_finding_references((Role.SECURITY_SQUAD,), finding_flagged)
