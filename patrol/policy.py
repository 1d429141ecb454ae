"""Need-to-know: who may read and write each kind of field record, written once.

Every read rule is one SQL predicate over the record's row. The REST services filter their
queries with it (:func:`read_clause`) and check single records with it (:func:`may_read`);
the sync pull builds its scopes from the same text (``sync.collections``), so what a phone
pulls is exactly what the API would show its user (``tests/api/test_need_to_know.py``).
Templates: ``{t}`` the row's table or alias, ``{uid}`` the caller's id, ``{mgr}`` whether the
caller is a captain or an admin. County isolation is applied separately (``infra.scope``).

=========  ==============================================  ===============================
record     read                                            write
=========  ==============================================  ===============================
area       managers; its leader and members                managers
target     who reads its area                              managers
plan       who reads its area; the plan's inspectors       managers
patrol     managers; its crew (inspector, companions);     its crew (start: the area's
           the leader of its area                          leader and members, managers)
finding    who reads its patrol; its reporter; further     its patrol's crew
           readers registered (the security squad)
track      who reads its patrol                            its patrol's crew
mine site  managers; holders of a five-to-one seat         managers
roster     (report) managers                               managers
user       managers; colleagues (see below)                admins
=========  ==============================================  ===============================

Colleagues of a user: the leaders and members of the areas they lead or belong to, and the
crews of the patrols they were on. A phone number shows to managers, to its owner, and to
those who share a patrol with its owner. Case teams (``evidence``) extend both relations with
:func:`register_colleagues`.

Findings: ``evidence`` adds the security squad's view (flagged findings and the sources of
cases it may see) with :func:`register_finding_readers`; :func:`finding_read` is the whole rule
as it stands once the registering packages are imported.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import TextClause, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from geofence.policy import MANAGER_ROLES, SITE_READ, is_manager, read_clause
from infra import error_codes as codes
from infra.errors import NotFoundError
from infra.scope import Principal, Role, scoped
from patrol.models import User

__all__ = [
    "AREA_READ",
    "MANAGER_ROLES",
    "PATROL_READ",
    "PHONE_READ",
    "PLAN_READ",
    "SITE_READ",
    "TARGET_READ",
    "USER_READ",
    "Colleague",
    "finding_read",
    "get_colleague",
    "is_manager",
    "list_colleagues",
    "may_read",
    "read_clause",
    "register_colleagues",
    "register_finding_readers",
    "sync_predicate",
]

AREA_READ = """({mgr} OR {t}.leader_id = {uid} OR EXISTS (
    SELECT 1 FROM patrol_area_members nk_m WHERE nk_m.area_id = {t}.id AND nk_m.user_id = {uid}))"""


def _nest(rule: str, alias: str) -> str:
    """``rule`` applied to ``alias``, keeping the caller placeholders for the outer format."""
    return rule.format(t=alias, uid="{uid}", mgr="{mgr}")


TARGET_READ = f"""EXISTS (SELECT 1 FROM patrol_areas nk_ta WHERE nk_ta.id = {{t}}.area_id
    AND {_nest(AREA_READ, "nk_ta")})"""  # noqa: S608 - constant SQL

PLAN_READ = f"""(EXISTS (SELECT 1 FROM patrol_areas nk_pa WHERE nk_pa.id = {{t}}.area_id
    AND {_nest(AREA_READ, "nk_pa")}) OR EXISTS (
    SELECT 1 FROM patrol_plan_inspectors nk_pi WHERE nk_pi.plan_id = {{t}}.id
      AND nk_pi.user_id = {{uid}}))"""  # noqa: S608 - constant SQL

# a patrol's area leader answers for the area's quota and what is found in it, so he reads
# its patrols; fellow members of the area do not (their findings name reporters and places)
PATROL_READ = """({mgr} OR {t}.inspector_id = {uid} OR {uid} = ANY({t}.companion_ids)
    OR EXISTS (SELECT 1 FROM patrol_areas nk_la WHERE nk_la.id = {t}.area_id
               AND nk_la.leader_id = {uid}))"""

_FINDING_READ = f"""{{t}}.reported_by = {{uid}} OR EXISTS (
    SELECT 1 FROM patrol_sessions nk_fs WHERE nk_fs.id = {{t}}.session_id
      AND {_nest(PATROL_READ, "nk_fs")})"""  # noqa: S608 - constant SQL

# further readers of findings (the security squad) added by the packages that own them
_finding_rules: list[str] = []


def register_finding_readers(rule: str) -> None:
    """Add a branch to the finding read rule: a predicate over the finding row ``{t}`` and the
    caller ``{uid}`` that checks the caller's role itself (e.g. "the caller is of the security
    squad and the finding is flagged"). Call at import time, before anything builds SQL from
    :func:`finding_read`."""
    if rule not in _finding_rules:
        _finding_rules.append(rule)


def finding_read() -> str:
    """Who may read a finding: who reads its patrol, its reporter, and the registered readers."""
    return "(" + " OR ".join([_FINDING_READ, *_finding_rules]) + ")"


_SHARED_PATROL = """EXISTS (SELECT 1 FROM patrol_sessions nk_sp
    WHERE nk_sp.county_id = {t}.county_id
      AND ({t}.id = nk_sp.inspector_id OR {t}.id = ANY(nk_sp.companion_ids))
      AND ({uid} = nk_sp.inspector_id OR {uid} = ANY(nk_sp.companion_ids)))"""
_SHARED_AREA = """EXISTS (SELECT 1 FROM patrol_areas nk_ua
    WHERE nk_ua.county_id = {t}.county_id AND nk_ua.active
      AND (nk_ua.leader_id = {t}.id OR EXISTS (SELECT 1 FROM patrol_area_members nk_um
           WHERE nk_um.area_id = nk_ua.id AND nk_um.user_id = {t}.id))
      AND (nk_ua.leader_id = {uid} OR EXISTS (SELECT 1 FROM patrol_area_members nk_um2
           WHERE nk_um2.area_id = nk_ua.id AND nk_um2.user_id = {uid})))"""

# further relations (case teams) added by the packages that own them
_colleague_rules: list[str] = []
_phone_rules: list[str] = []


def register_colleagues(rule: str, *, shares_phone: bool) -> None:
    """Add a relation that makes two users colleagues: a predicate over the user row ``{t}``
    and the caller ``{uid}`` (e.g. "both are on the team of one case"). ``shares_phone``:
    colleagues by this relation see each other's phone number. Call at import time."""
    if rule not in _colleague_rules:
        _colleague_rules.append(rule)
    if shares_phone and rule not in _phone_rules:
        _phone_rules.append(rule)


def _user_read() -> str:
    parts = ["{mgr}", "{t}.id = {uid}", _SHARED_AREA, _SHARED_PATROL, *_colleague_rules]
    return "(" + " OR ".join(parts) + ")"


def _phone_read() -> str:
    parts = ["{mgr}", "{t}.id = {uid}", _SHARED_PATROL, *_phone_rules]
    return "(" + " OR ".join(parts) + ")"


USER_READ = _user_read()
PHONE_READ = _phone_read()

_TABLES = {
    AREA_READ: "patrol_areas",
    TARGET_READ: "patrol_targets",
    PLAN_READ: "patrol_plans",
    PATROL_READ: "patrol_sessions",
    SITE_READ: "geofence_mine_sites",
}


def sync_predicate(rule: str, alias: str) -> str:
    """``rule`` over ``alias`` for the sync pull, whose caller is the ``prm`` row."""
    return rule.format(t=alias, uid="prm.uid", mgr="prm.mgr")


async def may_read(db: AsyncSession, principal: Principal, rule: str, record_id: uuid.UUID) -> bool:
    """Whether ``principal`` may read the record ``record_id`` under ``rule``."""
    table = "patrol_findings" if rule == finding_read() else _TABLES[rule]
    stmt = (
        select(text("1"))
        .select_from(text(table))
        .where(
            text(f"{table}.id = :nk_id").bindparams(nk_id=record_id),
            read_clause(rule, table, principal),
        )
    )
    return (await db.execute(select(stmt.exists()))).scalar() is True


# -- the directory ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Colleague:
    """A user as the caller may see them; ``phone`` is None unless the caller may call them."""

    user: User
    phone: str | None


def _directory(principal: Principal) -> tuple[TextClause, TextClause]:
    users = User.__tablename__
    uid = "CAST(:nk_uid AS uuid)"
    mgr = "true" if is_manager(principal) else "false"
    read = text(_user_read().format(t=users, uid=uid, mgr=mgr)).bindparams(nk_uid=principal.user_id)
    phone = text(_phone_read().format(t=users, uid=uid, mgr=mgr)).bindparams(
        nk_uid=principal.user_id
    )
    return read, phone


async def list_colleagues(
    db: AsyncSession, principal: Principal, *, role: Role | None = None
) -> list[Colleague]:
    """The users of the county the caller may see (``ListUsers``), by username."""
    read, phone = _directory(principal)
    stmt = scoped(select(User, phone), User, principal).where(read).order_by(User.username)
    if role is not None:
        stmt = stmt.where(User.role == role.value)
    rows: Sequence[tuple[User, bool]] = [
        (u, bool(shows)) for u, shows in (await db.execute(stmt)).all()
    ]
    return [Colleague(u, u.phone if shows else None) for u, shows in rows]


async def get_colleague(db: AsyncSession, principal: Principal, user_id: uuid.UUID) -> Colleague:
    """One user the caller may see (``GetUser``); anyone else is not found."""
    read, phone = _directory(principal)
    stmt = scoped(select(User, phone), User, principal).where(User.id == user_id, read)
    row = (await db.execute(stmt)).one_or_none()
    if row is None:
        raise NotFoundError("user not found", code=codes.USER_NOT_FOUND)
    user, shows = row
    return Colleague(user, user.phone if shows else None)
