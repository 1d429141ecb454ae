"""Petitions (信访): registration, the acceptance decision, the head's instruction, the
extension, the written reply, review and re-review, lists and figures.

The clue desk, captains and admins handle and read petitions; the petitioner's identity is
read by the clue desk and captains only (``GetPetitioner``, each read in the custody chain);
another county's petition does not exist (404). Every handler is one call of the petition
service (:class:`~evidence.cases.petition_service.PetitionService`) and a mapping.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

from api.deps import Caller, Petitions
from api.mapping import to_wire
from evidence.cases import petitions as pt
from mobile_contract.v1 import petitions as p

__all__ = ["PetitionController"]

Page = Annotated[int, QueryParameter(ge=1, le=100_000)]


def _petition(v: pt.PetitionView) -> p.Petition:
    return to_wire(p.Petition, v)


def _input(d: p.PetitionCreate) -> pt.PetitionInput:
    who = d.petitioner
    return pt.PetitionInput(
        form=d.form.value,
        category=d.category.value,
        received_at=d.received_at,
        subject=d.subject,
        content=d.content,
        petitioner=pt.Petitioner(who.name, who.phone, who.id_no, who.address),
        people_count=d.people_count,
        township_id=d.township_id,
    )


class PetitionController(Controller):
    path = "/petitions"
    tags = ["petitions"]  # noqa: RUF012

    @post("", operation_id="RegisterPetition", summary="Register a petition")
    async def register(
        self, data: JSONBody[p.PetitionCreate], petitions: Petitions, principal: Caller
    ) -> p.Petition:
        """Clue desk, captains, admins; the registration number is ``XF-<county code>-
        <year>-<seq>``; a complaint or accusation also opens a clue (``clueId``)."""
        return _petition(await petitions.register(principal, _input(data)))

    @get("", operation_id="ListPetitions", summary="Petitions of the county, 50 a page")
    async def list_petitions(
        self,
        petitions: Petitions,
        principal: Caller,
        *,
        status: FromQuery[list[p.PetitionStatusName] | None] = None,
        form: FromQuery[p.PetitionFormName | None] = None,
        category: FromQuery[p.PetitionCategoryName | None] = None,
        township_id: FromQuery[uuid.UUID | None] = None,
        overdue: FromQuery[bool | None] = None,
        received_from: FromQuery[date | None] = None,
        received_to: FromQuery[date | None] = None,
        page: Page = 1,
    ) -> p.PetitionPage:
        """Newest receipt first; ``overdue`` keeps petitions whose next step is (or is not)
        past its statutory date; dates are the county's."""
        filters = pt.PetitionFilters(
            status=[s.value for s in status] if status else None,
            form=None if form is None else form.value,
            category=None if category is None else category.value,
            township_id=township_id,
            overdue=overdue,
            received_from=received_from,
            received_to=received_to,
        )
        return to_wire(p.PetitionPage, await petitions.list(principal, filters, page=page))

    @get("/figures", operation_id="GetPetitionFigures", summary="Petition counts for a period")
    async def figures(
        self,
        petitions: Petitions,
        principal: Caller,
        *,
        period: FromQuery[p.PetitionPeriodName | None] = None,
        received_from: FromQuery[date | None] = None,
        received_to: FromQuery[date | None] = None,
    ) -> p.PetitionFigures:
        """By form, category, status and township, and on time or late, for this week,
        month (the default), quarter or year, or from/to."""
        view = await petitions.figures(
            principal,
            period=None if period is None else period.value,
            received_from=received_from,
            received_to=received_to,
        )
        return to_wire(p.PetitionFigures, view)

    @get("/{petition_id:uuid}", operation_id="GetPetition", summary="One petition")
    async def get_petition(
        self, petition_id: FromPath[uuid.UUID], petitions: Petitions, principal: Caller
    ) -> p.Petition:
        """Its steps with their dates, reviews and events; no identity."""
        return _petition(await petitions.get(principal, petition_id))

    @get(
        "/{petition_id:uuid}/petitioner",
        operation_id="GetPetitioner",
        summary="The petitioner's identity (clue desk, captains)",
    )
    async def get_petitioner(
        self, petition_id: FromPath[uuid.UUID], petitions: Petitions, principal: Caller
    ) -> p.PetitionerIdentity:
        """Each read is an entry of the custody chain (``petitioner_viewed``)."""
        view = await petitions.get_petitioner(principal, petition_id)
        return to_wire(p.PetitionerIdentity, view)

    @post(
        "/{petition_id:uuid}/decision",
        operation_id="DecidePetition",
        status_code=HTTP_200_OK,
        summary="Accept or not, within 15 days of receipt",
    )
    async def decide(
        self,
        petition_id: FromPath[uuid.UUID],
        data: JSONBody[p.PetitionDecision],
        petitions: Petitions,
        principal: Caller,
    ) -> p.Petition:
        """Acceptance starts the 60 days of the reply; a refusal needs its reason."""
        view = await petitions.decide(
            principal,
            petition_id,
            accept=data.accept,
            reason=data.reason,
            notice=data.notice,
            at=data.at,
        )
        return _petition(view)

    @post(
        "/{petition_id:uuid}/assignment",
        operation_id="AssignPetition",
        status_code=HTTP_200_OK,
        summary="The bureau head's instruction to a handling office",
    )
    async def assign(
        self,
        petition_id: FromPath[uuid.UUID],
        data: JSONBody[p.PetitionAssignment],
        petitions: Petitions,
        principal: Caller,
    ) -> p.Petition:
        """Given again, it reassigns."""
        view = await petitions.assign(
            principal,
            petition_id,
            office=data.office,
            instruction=data.instruction,
            township_id=data.township_id,
            at=data.at,
        )
        return _petition(view)

    @post(
        "/{petition_id:uuid}/extension",
        operation_id="ExtendPetition",
        status_code=HTTP_200_OK,
        summary="Extend the reply's period once, by up to 30 days",
    )
    async def extend(
        self,
        petition_id: FromPath[uuid.UUID],
        data: JSONBody[p.PetitionExtension],
        petitions: Petitions,
        principal: Caller,
    ) -> p.Petition:
        """A second extension is 409 ``petition_already_extended``."""
        view = await petitions.extend(
            principal,
            petition_id,
            days=data.days,
            reason=data.reason,
            notice=data.notice,
            at=data.at,
        )
        return _petition(view)

    @post(
        "/{petition_id:uuid}/reply",
        operation_id="ReplyPetition",
        status_code=HTTP_200_OK,
        summary="The written reply, within 60 days of acceptance",
    )
    async def reply(
        self,
        petition_id: FromPath[uuid.UUID],
        data: JSONBody[p.PetitionReply],
        petitions: Petitions,
        principal: Caller,
    ) -> p.Petition:
        """Review may then be asked within 30 days."""
        view = await petitions.reply(
            principal, petition_id, content=data.content, delivery=data.delivery.value, at=data.at
        )
        return _petition(view)

    @post(
        "/{petition_id:uuid}/review-requests",
        operation_id="RequestPetitionReview",
        status_code=HTTP_200_OK,
        summary="The petitioner asks for review or re-review",
    )
    async def request_review(
        self,
        petition_id: FromPath[uuid.UUID],
        data: JSONBody[p.PetitionReviewRequest],
        petitions: Petitions,
        principal: Caller,
    ) -> p.Petition:
        """Within 30 days of the answer (late: 422 ``petition_review_window_closed``)."""
        view = await petitions.request_review(
            principal, petition_id, level=data.level.value, reason=data.reason, at=data.at
        )
        return _petition(view)

    @post(
        "/{petition_id:uuid}/review-answers",
        operation_id="AnswerPetitionReview",
        status_code=HTTP_200_OK,
        summary="The review or re-review answer, within 30 days of the request",
    )
    async def answer_review(
        self,
        petition_id: FromPath[uuid.UUID],
        data: JSONBody[p.PetitionReviewAnswer],
        petitions: Petitions,
        principal: Caller,
    ) -> p.Petition:
        """The re-review's answer is final."""
        view = await petitions.answer_review(
            principal,
            petition_id,
            level=data.level.value,
            answer=data.answer,
            delivery=data.delivery.value,
            at=data.at,
        )
        return _petition(view)
