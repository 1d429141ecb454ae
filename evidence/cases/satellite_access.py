"""Need-to-know for satellite campaigns, written once for REST, sync, exports and the console.

==================  ==========================================  ==============================
record              read                                        write
==================  ==========================================  ==============================
batch, figures,     captains and admins                         import, assign: captains and
export                                                          admins
task (with its      captains and admins every task; inspectors  field result: who reads it;
polygon, results,   and joint team members the tasks assigned   review, submit, open a case:
history)            to them and the tasks of the contract       captains and admins; reopen
                    areas they read (leader, members)           after submission: admins
==================  ==========================================  ==============================

The security squad and the clue desk take no part (``role_not_allowed``).

:data:`TASK_READ` is the SQL template in the form of :mod:`patrol.policy` (``{t}`` the task
row's table or alias, ``{uid}`` the caller, ``{mgr}`` whether the caller is a manager):
:func:`task_read_clause` applies it for a known caller (REST, exports), and
``patrol.policy.sync_predicate(TASK_READ, alias)`` for the sync pull.
"""

from __future__ import annotations

from sqlalchemy import TextClause

from geofence.policy import read_clause
from infra.scope import Principal, Role, require_role
from patrol.policy import AREA_READ

__all__ = [
    "FIELD_ROLES",
    "MANAGE_ROLES",
    "REOPEN_ROLES",
    "TASK_READ",
    "require_field_role",
    "require_manager",
    "require_reopener",
    "task_read_clause",
]

#: Roles that read (their) tasks and record field results.
FIELD_ROLES = (Role.INSPECTOR, Role.JOINT_TEAM, Role.CAPTAIN, Role.ADMIN)
#: Roles that import batches, assign, review, submit and open cases; they read every task.
MANAGE_ROLES = (Role.CAPTAIN, Role.ADMIN)
#: Roles that reopen a submitted task (with a reason, in the custody chain).
REOPEN_ROLES = (Role.ADMIN,)

_AREA = AREA_READ.format(t="nk_st", uid="{uid}", mgr="{mgr}")
TASK_READ = f"""({{mgr}} OR {{t}}.inspector_id = {{uid}} OR EXISTS (SELECT 1 FROM patrol_areas nk_st
    WHERE nk_st.id = {{t}}.area_id AND {_AREA}))"""  # noqa: S608 - constant SQL


def task_read_clause(principal: Principal, table: str = "satellite_tasks") -> TextClause:
    """The tasks ``principal`` may read, as a WHERE clause over ``table`` (county isolation
    is applied separately, with :func:`infra.scope.scoped`)."""
    return read_clause(TASK_READ, table, principal)


def require_field_role(principal: Principal, action: str = "work on satellite tasks") -> None:
    require_role(principal, *FIELD_ROLES, action=action)


def require_manager(principal: Principal, action: str = "manage satellite campaigns") -> None:
    require_role(principal, *MANAGE_ROLES, action=action)


def require_reopener(principal: Principal, action: str = "reopen a submitted polygon") -> None:
    require_role(principal, *REOPEN_ROLES, action=action)
