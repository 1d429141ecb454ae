"""Need-to-know for evidence: one rule per record kind, for every path.

Each rule is written once, as SQLAlchemy conditions per role (:class:`Caller` picks the
caller's branch, or renders all of them when SQL learns the role at run time). Within the
caller's county (county isolation is :func:`infra.scope.scoped`'s):

========================  ===============================================================
record, role              rule
========================  ===============================================================
evidence: captain, admin  all
evidence: anyone else     their own uploads; evidence of patrols they lead or accompany;
                          evidence of records registered by the casework above this core
                          (:mod:`evidence.cases.access`: evidence of cases they may see;
                          the clue desk's: evidence of tip-offs)
========================  ===============================================================

Writing evidence references (``CreateUpload``), :func:`reference_allowed`:

* a patrol: captains/admins any; anyone else patrols they lead or accompany;
* a finding: captains/admins any; anyone else findings they reported or found on patrols they
  lead or accompany, and findings a registered rule lets their role reference (the squad:
  flagged findings);
* a mine site: any site of the county register (reference data everyone patrols against);
* a kind registered by the casework (a case, a tip-off).

Anything else — another county's record, an id that exists nowhere, a record out of scope, a
kind nobody registered — is the same refusal (``reference_not_found``): the answer never says
which. The casework registers its parts when :mod:`evidence.cases` is imported; without it
the rules are narrower, never wider.

Evidence of a record beyond the one its upload named (:func:`linked_to`): evidence the
casework links to a case after upload (``LinkCaseEvidence``, a case opened with evidence) is
the case's evidence too, for ``ListEvidence``'s ``case_id`` filter as for the read rule.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, literal, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Uuid

from evidence.models import Upload
from geofence.models import MineSite
from infra.scope import MANAGERS, Principal, Role
from patrol.field_models import Finding, PatrolSession

__all__ = [
    "MANAGERS",
    "Caller",
    "ReferenceRule",
    "caller_of",
    "evidence_visible",
    "linked_to",
    "on_patrol",
    "reference_allowed",
    "register_evidence_readers",
    "register_finding_references",
    "register_linked_evidence",
    "register_reference_kind",
]


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


def caller_of(principal: Principal) -> Caller:
    return Caller(literal(principal.user_id, Uuid()), principal.role)


def on_patrol(patrol_id: Any, uid: ColumnElement[Any]) -> ColumnElement[bool]:
    """``uid`` leads the patrol ``patrol_id`` or accompanies it."""
    return exists().where(
        PatrolSession.id == patrol_id,
        or_(PatrolSession.inspector_id == uid, uid == PatrolSession.companion_ids.any_()),
    )


# -- what the casework registers --------------------------------------------------------------
ReferenceRule = Callable[["Caller", uuid.UUID, uuid.UUID], ColumnElement[bool]]
"""``(caller, county_id, record_id)``: the record exists in the county and the caller may
attach evidence to it."""

_EVIDENCE_READERS: list[Callable[[Caller], ColumnElement[bool]]] = []
_REFERENCE_KINDS: dict[str, ReferenceRule] = {}
_FINDING_REFERENCES: list[tuple[tuple[Role, ...], Callable[[], ColumnElement[bool]]]] = []


def register_evidence_readers(rule: Callable[[Caller], ColumnElement[bool]]) -> None:
    """Evidence (joined with its ``Upload``) a non-manager caller may also read, e.g.
    evidence of a case the caller may see."""
    _EVIDENCE_READERS.append(rule)


_LINKED: dict[str, list[Callable[[uuid.UUID], ColumnElement[bool]]]] = {}


def register_linked_evidence(kind: str, rule: Callable[[uuid.UUID], ColumnElement[bool]]) -> None:
    """Evidence (joined with its ``Upload``) linked to the record ``kind`` / id after upload,
    e.g. evidence linked to a case."""
    _LINKED.setdefault(kind, []).append(rule)


def linked_to(kind: str, record_id: uuid.UUID) -> ColumnElement[bool]:
    """Evidence (joined with its ``Upload``) some registered rule links to the record (false
    when nobody registered the kind)."""
    return or_(false(), *(rule(record_id) for rule in _LINKED.get(kind, ())))


def register_reference_kind(kind: str, rule: ReferenceRule) -> None:
    """Evidence may reference records of ``kind``, where ``rule`` allows it."""
    _REFERENCE_KINDS[kind] = rule


def register_finding_references(
    roles: tuple[Role, ...], rule: Callable[[], ColumnElement[bool]]
) -> None:
    """Callers of ``roles`` may also reference the findings where ``rule`` holds."""
    _FINDING_REFERENCES.append((roles, rule))


# -- evidence ------------------------------------------------------------------------------------
def evidence_visible(caller: Caller) -> ColumnElement[bool]:
    """Evidence (joined with its ``Upload``) the caller may read, within the county."""
    uid = caller.uid
    someone = or_(
        Upload.uploader_id == uid,
        on_patrol(Upload.patrol_session_id, uid),
        *(rule(caller) for rule in _EVIDENCE_READERS),
    )
    return caller.pick(
        (
            (MANAGERS, true()),
            ((Role.SECURITY_SQUAD, Role.INSPECTOR, Role.JOINT_TEAM, Role.CLUE_DESK), someone),
        )
    )


# -- references ----------------------------------------------------------------------------------
def _patrol_reference(
    caller: Caller, county: uuid.UUID, record_id: uuid.UUID
) -> ColumnElement[bool]:
    uid = caller.uid
    return and_(
        PatrolSession.id == record_id,
        PatrolSession.county_id == county,
        caller.pick(
            (
                (MANAGERS, true()),
                (
                    (Role.SECURITY_SQUAD, Role.INSPECTOR, Role.JOINT_TEAM),
                    or_(
                        PatrolSession.inspector_id == uid, uid == PatrolSession.companion_ids.any_()
                    ),
                ),
            )
        ),
    )


def _finding_reference(
    caller: Caller, county: uuid.UUID, record_id: uuid.UUID
) -> ColumnElement[bool]:
    uid = caller.uid
    mine = or_(Finding.reported_by == uid, on_patrol(Finding.session_id, uid))
    others = (Role.SECURITY_SQUAD, Role.INSPECTOR, Role.JOINT_TEAM)
    rules: list[tuple[tuple[Role, ...], ColumnElement[bool]]] = [(MANAGERS, true())]
    for role in others:
        extra = [rule() for roles, rule in _FINDING_REFERENCES if role in roles]
        rules.append(((role,), or_(mine, *extra)))
    return and_(Finding.id == record_id, Finding.county_id == county, caller.pick(rules))


def _site_reference(
    _caller: Caller, county: uuid.UUID, record_id: uuid.UUID
) -> ColumnElement[bool]:
    return and_(MineSite.id == record_id, MineSite.county_id == county)


_CORE_KINDS: dict[str, ReferenceRule] = {
    "patrol": _patrol_reference,
    "finding": _finding_reference,
    "mine_site": _site_reference,
}


async def reference_allowed(
    session: AsyncSession, principal: Principal, kind: str, record_id: uuid.UUID
) -> bool:
    """May the caller attach evidence to this ``patrol``, ``finding``, ``mine_site`` or a
    registered kind (``case``)? ``False`` for anything of another county, unknown, out of
    scope, or of a kind nobody registered."""
    rule = _CORE_KINDS.get(kind) or _REFERENCE_KINDS.get(kind)
    if rule is None:
        return False
    cond = rule(caller_of(principal), principal.county_id, record_id)
    # ``SELECT true WHERE …`` rather than ``EXISTS``: a role no rule names folds the condition
    # to a bare ``false``, and ``EXISTS (SELECT * WHERE false)`` is not valid SQL.
    return bool(await session.scalar(select(true()).where(cond).limit(1)))
