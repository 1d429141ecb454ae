"""Location checks at the batch limit: ``MAX_BATCH_POINTS`` (10,000) points are answered,
one more is refused."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from geofence.check import MAX_BATCH_POINTS, check_locations
from geofence.errors import TooManyPointsError


async def test_a_batch_of_the_limit_is_answered_and_one_more_refused(
    session: AsyncSession, county_id: uuid.UUID
) -> None:
    assert MAX_BATCH_POINTS == 10_000
    points = [(112.1 + (i % 100) * 1e-4, 28.5 + (i // 100) * 1e-4, 5.0) for i in range(10_000)]
    answers = await check_locations(session, county_id, points)
    assert len(answers) == MAX_BATCH_POINTS
    assert not any(a.outside_county for a in answers)
    with pytest.raises(TooManyPointsError):
        await check_locations(session, county_id, [*points, (112.1, 28.5, 5.0)])
