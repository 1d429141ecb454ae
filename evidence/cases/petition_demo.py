"""Demo petitions for the demo county: what the clue desk and the captains should see.

1. a letter with a suggestion, registered three days ago, waiting for the decision;
2. a group visit (six people) accusing a brick works of taking farmland, accepted and
   assigned to a township land office with the bureau head's instruction;
3. a call asking for land to be given back, whose reply was extended by 30 days;
4. an online petition under review (复查): replied, and the review asked five days ago;
5. a letter whose acceptance decision is five days overdue (the captains' alert).

Idempotent: a second call finds them by subject and changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.petition_models import Petition
from evidence.cases.petitions import (
    Petitioner,
    PetitionInput,
    assign_petition,
    decide_petition,
    extend_petition,
    register_petition,
    reply_petition,
    request_review,
)
from infra.db import utcnow
from infra.scope import Principal, Role
from patrol.accounts import principal_of
from patrol.models import Township, User

__all__ = ["DEMO_PETITION_SUBJECTS", "seed_demo_petitions"]

DEMO_PETITION_SUBJECTS = (
    "建议在河道沿线增设禁止采砂警示牌",
    "举报砖厂占用基本农田取土",
    "要求退还被占用的承包地",
    "对征地补偿处理意见不服",
    "反映邻居在耕地上建房",
)


async def _principal(session: AsyncSession, county_id: uuid.UUID, role: Role) -> Principal:
    user = await session.scalar(
        select(User)
        .where(User.county_id == county_id, User.role == role.value, User.active)
        .order_by(User.created_at)
        .limit(1)
    )
    if user is None:
        msg = f"the demo county has no active {role.value}"
        raise LookupError(msg)
    return principal_of(user)


def _petition(
    subject: str, content: str, received: datetime, *, form: str, category: str, people: int = 1
) -> PetitionInput:
    return PetitionInput(
        form=form,
        category=category,
        received_at=received,
        subject=subject,
        content=content,
        petitioner=Petitioner("演示信访人", "13800000000", "", "演示县"),
        people_count=people,
    )


async def seed_demo_petitions(
    session: AsyncSession, county_id: uuid.UUID, *, now: datetime | None = None
) -> list[uuid.UUID]:
    """Add the five demo petitions to ``county_id``; flushes, the caller commits. Returns
    their ids, in the order of :data:`DEMO_PETITION_SUBJECTS`."""
    existing = {
        subject: pid
        for pid, subject in await session.execute(
            select(Petition.id, Petition.subject).where(
                Petition.county_id == county_id, Petition.subject.in_(DEMO_PETITION_SUBJECTS)
            )
        )
    }
    if existing:
        return [existing[s] for s in DEMO_PETITION_SUBJECTS if s in existing]
    now = now or utcnow()
    desk = await _principal(session, county_id, Role.CLUE_DESK)
    captain = await _principal(session, county_id, Role.CAPTAIN)
    township = await session.scalar(
        select(Township).where(Township.county_id == county_id).order_by(Township.code).limit(1)
    )
    office = f"{township.name}国土资源所" if township is not None else "执法大队一中队"
    township_id = None if township is None else township.id

    def ago(days: float) -> datetime:
        return now - timedelta(days=days)

    async def register(data: PetitionInput) -> uuid.UUID:
        view = await register_petition(session, desk, data, now=data.received_at)
        return view.id

    s = DEMO_PETITION_SUBJECTS
    waiting = await register(
        _petition(s[0], "河道沿线夜间常有人偷采河砂，建议增设警示牌并公布举报电话。", ago(3),
                  form="letter", category="suggestion")
    )  # fmt: skip
    group = await register(
        _petition(s[1], "村北砖厂长期在基本农田取土烧砖，已挖深坑十余亩。", ago(22),
                  form="visit", category="complaint_accusation", people=6)
    )  # fmt: skip
    await decide_petition(session, desk, group, accept=True, notice="当面告知", at=ago(20),
                          now=now)  # fmt: skip
    await assign_petition(
        session, captain, group, office=office, instruction="请国土所会同执法大队十日内核实上报",
        township_id=township_id, at=ago(19), now=now,
    )  # fmt: skip
    extended = await register(
        _petition(s[2], "本人承包地被村委会收回后用于建房，要求退还。", ago(70),
                  form="phone", category="appeal_request")
    )  # fmt: skip
    await decide_petition(session, desk, extended, accept=True, notice="电话告知", at=ago(68),
                          now=now)  # fmt: skip
    await assign_petition(session, captain, extended, office="执法大队一中队",
                          instruction="请一中队调查处理", at=ago(67), now=now)  # fmt: skip
    await extend_petition(
        session, captain, extended, days=30, reason="需调取土地承包档案并现场测量",
        notice="电话告知延期理由", at=ago(10), now=now,
    )  # fmt: skip
    review = await register(
        _petition(s[3], "对村组征地补偿分配方案不服，请求重新处理。", ago(80),
                  form="online", category="appeal_request")
    )  # fmt: skip
    await decide_petition(session, desk, review, accept=True, notice="网上答复", at=ago(78),
                          now=now)  # fmt: skip
    await reply_petition(
        session, desk, review, content="经核查，补偿分配方案经村民会议通过，符合规定。",
        delivery="online", at=ago(25), now=now,
    )  # fmt: skip
    await request_review(
        session, desk, review, level="review", reason="认为村民会议程序不合法", at=ago(5), now=now
    )
    overdue = await register(
        _petition(s[4], "邻居在承包耕地上建房，已打地基。", ago(20), form="letter",
                  category="appeal_request")
    )  # fmt: skip
    await session.flush()
    return [waiting, group, extended, review, overdue]
