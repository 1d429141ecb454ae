"""Who may read the mine-site register (a site with its five-to-one roster: names, phones).

The rule is SQL, written once, and used both by the REST reads (:mod:`geofence.mines`) and by
the sync pull (``sync.collections``), so the two cannot drift. ``{t}`` is the site row's table
or alias, ``{uid}`` the caller's id and ``{mgr}`` whether the caller manages the county
(captain or admin). The whole need-to-know table is in :mod:`patrol.policy`.

* read: captains and admins every site; everyone else the sites they hold a five-to-one seat
  at (the register's geometry and status also reach an area's people as a reference layer
  feature, without the roster).
* write (register, status, roster) and the roster completeness report: captains and admins.
"""

from __future__ import annotations

from sqlalchemy import TextClause, text

from infra.scope import MANAGERS, Principal

__all__ = ["MANAGER_ROLES", "SITE_READ", "is_manager", "read_clause"]

#: Roles that manage the whole county and read every record of it.
MANAGER_ROLES = MANAGERS

SITE_READ = """({mgr} OR EXISTS (SELECT 1 FROM geofence_roster_members nk_r
    WHERE nk_r.site_id = {t}.id AND nk_r.user_id = {uid}))"""


def is_manager(principal: Principal) -> bool:
    return principal.role in MANAGER_ROLES


def read_clause(rule: str, table: str, principal: Principal) -> TextClause:
    """``rule`` (one of the ``*_READ`` templates) as a WHERE clause over ``table`` for
    ``principal``, for a query that selects from ``table`` under its own name."""
    sql = rule.format(
        t=table, uid="CAST(:nk_uid AS uuid)", mgr="true" if is_manager(principal) else "false"
    )
    return text(sql).bindparams(nk_uid=principal.user_id)
