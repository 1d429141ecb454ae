"""The petition service: one entry point to petitions (信访) for a request (or a command).

Bound to a session, the custody log (every read of a petitioner's identity is an entry of
the county's chain) and a clock (what "now" is: the default time of a step, the county's
today for ``overdue`` and the figures' period). Its methods wrap the functions of
:mod:`evidence.cases.petitions`, which stay the reference for each rule, and answer domain
views, never ORM rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases import petitions as _p
from evidence.cases.petitions import (
    PetitionerView,
    PetitionFigures,
    PetitionFilters,
    PetitionInput,
    PetitionPage,
    PetitionView,
)
from evidence.custody import CustodyLog
from infra.db import utcnow
from infra.scope import Principal

__all__ = ["PetitionService"]


class PetitionService:
    """Registration, the handling steps with their statutory dates, lists and figures."""

    def __init__(
        self,
        session: AsyncSession,
        custody: CustodyLog,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.session = session
        self._custody = custody
        self._clock = clock

    async def register(self, principal: Principal, data: PetitionInput) -> PetitionView:
        return await _p.register_petition(self.session, principal, data, now=self._clock())

    async def get(self, principal: Principal, petition_id: uuid.UUID) -> PetitionView:
        return await _p.get_petition(self.session, principal, petition_id, now=self._clock())

    async def get_petitioner(self, principal: Principal, petition_id: uuid.UUID) -> PetitionerView:
        return await _p.get_petitioner(
            self.session, principal, petition_id, self._custody, now=self._clock()
        )

    async def list(
        self, principal: Principal, filters: PetitionFilters, *, page: int = 1
    ) -> PetitionPage:
        return await _p.list_petitions(
            self.session, principal, filters, page=page, now=self._clock()
        )

    async def figures(
        self,
        principal: Principal,
        *,
        period: str | None = None,
        received_from: date | None = None,
        received_to: date | None = None,
    ) -> PetitionFigures:
        return await _p.petition_figures(
            self.session,
            principal,
            period=period,
            received_from=received_from,
            received_to=received_to,
            now=self._clock(),
        )

    async def decide(
        self,
        principal: Principal,
        petition_id: uuid.UUID,
        *,
        accept: bool,
        reason: str = "",
        notice: str = "",
        at: datetime | None = None,
    ) -> PetitionView:
        return await _p.decide_petition(
            self.session,
            principal,
            petition_id,
            accept=accept,
            reason=reason,
            notice=notice,
            at=at,
            now=self._clock(),
        )

    async def assign(
        self,
        principal: Principal,
        petition_id: uuid.UUID,
        *,
        office: str,
        instruction: str,
        township_id: uuid.UUID | None = None,
        at: datetime | None = None,
    ) -> PetitionView:
        return await _p.assign_petition(
            self.session,
            principal,
            petition_id,
            office=office,
            instruction=instruction,
            township_id=township_id,
            at=at,
            now=self._clock(),
        )

    async def extend(
        self,
        principal: Principal,
        petition_id: uuid.UUID,
        *,
        days: int,
        reason: str,
        notice: str = "",
        at: datetime | None = None,
    ) -> PetitionView:
        return await _p.extend_petition(
            self.session,
            principal,
            petition_id,
            days=days,
            reason=reason,
            notice=notice,
            at=at,
            now=self._clock(),
        )

    async def reply(
        self,
        principal: Principal,
        petition_id: uuid.UUID,
        *,
        content: str,
        delivery: str,
        at: datetime | None = None,
    ) -> PetitionView:
        return await _p.reply_petition(
            self.session,
            principal,
            petition_id,
            content=content,
            delivery=delivery,
            at=at,
            now=self._clock(),
        )

    async def request_review(
        self,
        principal: Principal,
        petition_id: uuid.UUID,
        *,
        level: str,
        reason: str = "",
        at: datetime | None = None,
    ) -> PetitionView:
        return await _p.request_review(
            self.session, principal, petition_id, level=level, reason=reason, at=at,
            now=self._clock(),
        )  # fmt: skip

    async def answer_review(
        self,
        principal: Principal,
        petition_id: uuid.UUID,
        *,
        level: str,
        answer: str,
        delivery: str = "mail",
        at: datetime | None = None,
    ) -> PetitionView:
        return await _p.answer_review(
            self.session, principal, petition_id, level=level, answer=answer,
            delivery=delivery, at=at, now=self._clock(),
        )  # fmt: skip
