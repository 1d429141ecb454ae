"""Satellite campaign tasks: the list and views, field results, review, submission, an
admin's reopening, and the case an illegal result opens.

Inspectors and joint team members read the tasks assigned to them and those of the contract
areas they read; captains and admins every task of the county; the squad and the clue desk
none (``role_not_allowed``). A task the caller cannot read does not exist (404
``satellite_task_not_found``). Every handler is one call of
:class:`~evidence.cases.satellite_tasks.SatelliteTaskService` and a mapping.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

from api.deps import PATROL_CONFIG, Caller, Db, Settings_
from api.mapping import to_wire, to_wire_list
from evidence.adapters import visible_evidence_ids
from evidence.cases import satellite_tasks as st
from evidence.custody import CustodyLog
from infra.db import utcnow
from mobile_contract.v1 import satellite_tasks as c
from mobile_contract.v1 import sync as wire
from patrol.verification import VerificationService

__all__ = ["SatelliteTaskController", "result_input"]


def provide_satellite_tasks(db: Db, settings: Settings_, state: State) -> st.SatelliteTaskService:
    # reopenings append to the custody chain, keyed like the evidence service's; a result on
    # a patrol is its target's verification; ``state.clock`` (a test's) replaces the server's
    clock = state.get("clock") or utcnow
    return st.SatelliteTaskService(
        db,
        CustodyLog(settings.evidence.package_signing_key.encode()),
        verifications=VerificationService(
            db, config=PATROL_CONFIG, evidence=visible_evidence_ids, clock=clock
        ),
        clock=clock,
    )


SatelliteTasks = NamedDependency[st.SatelliteTaskService]
Limit = Annotated[int, QueryParameter(ge=1, le=c.MAX_TASK_PAGE)]


def result_input(
    task_id: uuid.UUID,
    result_id: uuid.UUID,
    d: c.SatelliteResultCreate | wire.RecordSatelliteResultOp,
) -> st.SatelliteResultInput:
    """The domain input of a result, from the REST body or the push operation alike
    (enumerated values as their plain text, which the domain checks)."""

    def text(value: object) -> str | None:
        return None if value is None else str(value)

    return st.SatelliteResultInput(
        task_id=task_id,
        result_id=result_id,
        outcome=str(d.outcome),
        verified_at=d.verified_at,
        patrol_id=d.patrol_id,
        note=d.note,
        evidence_ids=tuple(d.evidence_ids),
        proof_type=text(d.proof_type),
        approval_no=d.approval_no,
        approval_body=d.approval_body,
        approval_date=d.approval_date,
        approval_area_mu=d.approval_area_mu,
        not_new_kind=text(d.not_new_kind),
        violator=d.violator,
        violator_type=text(d.violator_type),
        land_use=text(d.land_use),
        construction_status=text(d.construction_status),
        outline=d.outline,
        crs=str(d.crs),
    )


class SatelliteTaskController(Controller):
    path = "/satellite/tasks"
    tags = ["satellite"]  # noqa: RUF012
    dependencies = {"satellite_tasks": Provide(provide_satellite_tasks, sync_to_thread=False)}  # noqa: RUF012

    @get("", operation_id="ListSatelliteTasks", summary="Satellite tasks, a page at a time")
    async def list_tasks(
        self,
        satellite_tasks: SatelliteTasks,
        principal: Caller,
        *,
        batch_id: FromQuery[uuid.UUID | None] = None,
        status: FromQuery[list[c.SatelliteTaskStatusName] | None] = None,
        township_id: FromQuery[uuid.UUID | None] = None,
        area_id: FromQuery[uuid.UUID | None] = None,
        inspector_id: FromQuery[uuid.UUID | None] = None,
        outcome: FromQuery[c.SatelliteOutcomeName | None] = None,
        overdue: FromQuery[bool | None] = None,
        monitoring_no: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = 100,
    ) -> c.SatelliteTaskPage:
        """By monitoring number; inspectors and joint members see their tasks only.
        ``overdue=true``: the due day has passed and no result is recorded yet."""
        filters = st.TaskFilter(
            batch_id=batch_id,
            status=[s.value for s in status or ()],
            township_id=township_id,
            area_id=area_id,
            inspector_id=inspector_id,
            outcome=None if outcome is None else outcome.value,
            overdue=overdue,
            monitoring_no=monitoring_no,
        )
        page = await satellite_tasks.list_tasks(principal, filters, cursor=cursor, limit=limit)
        return to_wire(c.SatelliteTaskPage, page)

    @post(
        "/submit",
        operation_id="SubmitSatelliteTasks",
        status_code=HTTP_200_OK,
        summary="Report passed tasks up (captains, admins)",
    )
    async def submit(
        self, data: JSONBody[c.SatelliteSubmit], satellite_tasks: SatelliteTasks, principal: Caller
    ) -> c.SatelliteSubmission:
        """All or none: a task that has not passed the review refuses the submission (409
        ``satellite_task_wrong_status`` naming the tasks in ``details.taskIds``)."""
        view = await satellite_tasks.submit(principal, data.task_ids)
        return to_wire(c.SatelliteSubmission, view)

    @get("/{task_id:uuid}", operation_id="GetSatelliteTask", summary="One satellite task")
    async def get_task(
        self, task_id: FromPath[uuid.UUID], satellite_tasks: SatelliteTasks, principal: Caller
    ) -> c.SatelliteTask:
        """Its polygon, current result, review, submission, case and history."""
        return to_wire(c.SatelliteTask, await satellite_tasks.get_task(principal, task_id))

    @get(
        "/{task_id:uuid}/results",
        operation_id="ListSatelliteResults",
        summary="A task's field results, newest first",
    )
    async def list_results(
        self, task_id: FromPath[uuid.UUID], satellite_tasks: SatelliteTasks, principal: Caller
    ) -> list[c.SatelliteResult]:
        """Every result recorded, the current one marked (``current``)."""
        rows = await satellite_tasks.list_results(principal, task_id)
        return to_wire_list(c.SatelliteResult, rows)

    @put(
        "/{task_id:uuid}/results/{result_id:uuid}",
        operation_id="RecordSatelliteResult",
        status_code=HTTP_200_OK,
        summary="Record a field result under the client's id",
    )
    async def record_result(
        self,
        task_id: FromPath[uuid.UUID],
        result_id: FromPath[uuid.UUID],
        data: JSONBody[c.SatelliteResultCreate],
        satellite_tasks: SatelliteTasks,
        principal: Caller,
    ) -> c.SatelliteResult:
        """The same body again answers the stored result; another body under the same id is
        409 ``id_reused``. A result verified before the current one is kept as history."""
        view, _ = await satellite_tasks.record_result(
            principal, result_input(task_id, result_id, data)
        )
        return to_wire(c.SatelliteResult, view)

    @post(
        "/{task_id:uuid}/review",
        operation_id="ReviewSatelliteTask",
        status_code=HTTP_200_OK,
        summary="Pass a verified task or send it back (captains, admins)",
    )
    async def review(
        self,
        task_id: FromPath[uuid.UUID],
        data: JSONBody[c.SatelliteReview],
        satellite_tasks: SatelliteTasks,
        principal: Caller,
    ) -> c.SatelliteTask:
        """Only a ``verified`` task is reviewed; sending back needs a ``reason``."""
        view = await satellite_tasks.review(
            principal, task_id, decision=data.decision.value, reason=data.reason
        )
        return to_wire(c.SatelliteTask, view)

    @post(
        "/{task_id:uuid}/reopen",
        operation_id="ReopenSatelliteTask",
        status_code=HTTP_200_OK,
        summary="Take a submitted task back for review (admins, with a reason)",
    )
    async def reopen(
        self,
        task_id: FromPath[uuid.UUID],
        data: JSONBody[c.SatelliteReopen],
        satellite_tasks: SatelliteTasks,
        principal: Caller,
    ) -> c.SatelliteTask:
        """The task becomes ``verified``; the reason is in its history and the custody chain."""
        view = await satellite_tasks.reopen(principal, task_id, reason=data.reason)
        return to_wire(c.SatelliteTask, view)

    @post(
        "/{task_id:uuid}/case",
        operation_id="OpenSatelliteCase",
        status_code=HTTP_200_OK,
        summary="Open a case from an illegal result (captains, admins)",
    )
    async def open_case(
        self,
        task_id: FromPath[uuid.UUID],
        data: JSONBody[c.SatelliteCaseCreate],
        satellite_tasks: SatelliteTasks,
        principal: Caller,
    ) -> c.SatelliteTask:
        """From a passed or submitted task whose current result is illegal; once (a second
        call is 409 ``satellite_task_wrong_status`` naming ``details.caseId``)."""
        kind = None if data.violation_kind is None else data.violation_kind.value
        view = await satellite_tasks.open_case(principal, task_id, violation_kind=kind)
        return to_wire(c.SatelliteTask, view)
