"""Demo data beyond the county frame: each package's seeder, called once on first start."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from geofence.demo import seed_demo_layers
from infra.scope import Role
from infra.settings import Settings
from patrol.demo import DemoCounty, county_outline
from patrol.models import User

__all__ = ["seed_demo_extras"]


async def seed_demo_extras(session: AsyncSession, demo: DemoCounty, settings: Settings) -> None:
    """Layers, patrols, evidence and cases for the demo county (added as packages land)."""
    del settings
    # geofence: parcels, planning zones, closed-mine register with rosters, change polygons
    staff = list(
        await session.scalars(
            select(User.id)
            .where(User.county_id == demo.county.id, User.role.in_([Role.INSPECTOR, Role.ADMIN]))
            .order_by(User.username)
        )
    )
    await seed_demo_layers(session, demo.county.id, county_outline(), user_ids=staff)
