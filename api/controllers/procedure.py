"""The administrative penalty procedure of a case: record a step, list the steps, read the
procedure (stage, deadlines, next steps, penalty) and write the penalty content.

Steps and the penalty follow the case's visibility (another county's case, or one the
caller may not see, does not exist: 404 ``case_not_found``); captains and admins record
every step, the case's team (inspectors who opened it or are on it) the investigation and
the other team steps, and write the penalty; joint-team members read party ID numbers
masked. Every handler is one call of :class:`~evidence.cases.procedure.ProcedureService` and
a mapping.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Controller, get, post, put
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from api.deps import Caller, Procedure
from api.mapping import to_wire, to_wire_list
from evidence.cases import penalties as pn
from evidence.cases import procedure as pr
from mobile_contract.v1 import procedure as p

__all__ = ["ProcedureController"]


def _step_input(d: p.CaseStepCreate) -> pr.StepInput:
    fields: dict[str, Any] = msgspec.structs.asdict(d)
    kind = type(d).__struct_config__.tag
    values = {k: v.value if hasattr(v, "value") else v for k, v in fields.items()}
    return pr.StepInput(kind=str(kind), **values)


def _penalty_input(d: p.PenaltyPut) -> pn.PenaltyInput:
    return pn.PenaltyInput(
        parties=[
            pn.PartyInput(
                x.name, kind=x.kind.value, id_no=x.id_no, address=x.address,
                representative=x.representative, phone=x.phone,
            )
            for x in d.parties
        ],
        violations=[pn.ViolationInput(v.article.value, v.facts) for v in d.violations],
        measures=[
            pn.MeasureInput(
                m.kind.value, deadline_days=m.deadline_days, area_m2=m.area_m2,
                amount_yuan=m.amount_yuan, note=m.note,
            )
            for m in d.measures
        ],
        fines=[pn.FineInput(f.article.value, f.amount_yuan, f.basis_yuan) for f in d.fines],
    )  # fmt: skip


class ProcedureController(Controller):
    path = "/cases/{case_id:uuid}"
    tags = ["procedure"]  # noqa: RUF012

    @post(
        "/steps",
        operation_id="RecordCaseStep",
        summary="Record a step of the case's penalty procedure",
        status_code=HTTP_201_CREATED,
    )
    async def record_step(
        self,
        case_id: FromPath[uuid.UUID],
        data: JSONBody[p.CaseStepCreate],
        procedure: Procedure,
        principal: Caller,
    ) -> p.CaseStep:
        """One step, tagged by ``kind``; out of order: 409 ``case_step_out_of_order`` naming
        the expected step. The coarse status moves where the step implies it."""
        view = await procedure.record_step(principal, case_id, _step_input(data))
        return to_wire(p.CaseStep, view)

    @get("/steps", operation_id="ListCaseSteps", summary="The steps of the case's procedure")
    async def list_steps(
        self, case_id: FromPath[uuid.UUID], procedure: Procedure, principal: Caller
    ) -> list[p.CaseStep]:
        """In order, each with who recorded it, when, its details and its document."""
        return to_wire_list(p.CaseStep, await procedure.list_steps(principal, case_id))

    @get(
        "/procedure",
        operation_id="GetCaseProcedure",
        summary="Stage, deadlines, next steps and penalty of the case",
    )
    async def get_procedure(
        self, case_id: FromPath[uuid.UUID], procedure: Procedure, principal: Caller
    ) -> p.CaseProcedure:
        """Each deadline with its due time, when it was met, late or overdue, and for the
        decision the days counted and paused."""
        return to_wire(p.CaseProcedure, await procedure.get_procedure(principal, case_id))

    @put(
        "/penalty",
        operation_id="PutCasePenalty",
        summary="Write the case's penalty content (before the decision)",
        status_code=HTTP_200_OK,
    )
    async def put_penalty(
        self,
        case_id: FromPath[uuid.UUID],
        data: JSONBody[p.PenaltyPut],
        procedure: Procedure,
        principal: Caller,
    ) -> p.Penalty:
        """Parties (ID numbers checked), violations with their articles, measures, and fines
        inside the range the law allows for the case (422 ``fine_out_of_range`` naming it)."""
        view = await procedure.put_penalty(principal, case_id, _penalty_input(data))
        return to_wire(p.Penalty, view)
