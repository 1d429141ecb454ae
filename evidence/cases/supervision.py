"""The procuratorate's supervision of referrals (两法衔接): every read it makes is audited.

The procuratorate (检察监督) reads the county's referred cases (:mod:`evidence.cases.access`),
their steps and deadlines, the referrals and the overdue feed, and exports the package of a
referred case; it changes nothing. Each such read appends one ``procuratorate_viewed`` entry
to the county's custody chain in the reading request's own transaction, so a read that is
answered is a read that is recorded (and one that fails records nothing):

* ``subject_id``: the case or referral read; none for a list;
* ``actor_id``: the reader; ``details``: the operation, the reader's username and the ids the
  answer named (for a list, every listed id; an empty list is recorded too).

The services of cases and of the procedure call :func:`audit_read` after each read; for
every other role it does nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from evidence.custody import CustodyAction, CustodyLog
from infra.scope import Principal, Role

__all__ = ["AUDITED_READERS", "audit_read"]

#: Roles whose every read of casework is an entry of the custody chain.
AUDITED_READERS = (Role.PROCURATORATE,)


async def audit_read(
    session: AsyncSession,
    custody: CustodyLog | None,
    principal: Principal,
    *,
    operation: str,
    ids: Sequence[uuid.UUID],
    subject_id: uuid.UUID | None = None,
    at: datetime | None = None,
) -> None:
    """Record that ``principal`` read ``ids`` through ``operation`` (audited roles only)."""
    if not principal.has_role(*AUDITED_READERS):
        return
    if custody is None:  # a service built without its log must not answer unaudited
        msg = f"{operation} by {principal.role.value} needs the custody log to be audited"
        raise RuntimeError(msg)
    await custody.append(
        session,
        county_id=principal.county_id,
        action=CustodyAction.PROCURATORATE_VIEWED,
        subject_id=subject_id,
        actor_id=principal.user_id,
        details={
            "operation": operation,
            "reader": principal.username,
            "role": principal.role.value,
            "ids": [str(i) for i in ids],
        },
        at=at,
    )
