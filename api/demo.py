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
    # geofence: parcels, planning zones, closed-mine register with rosters, change polygons
    staff = list(
        await session.scalars(
            select(User.id)
            .where(User.county_id == demo.county.id, User.role.in_([Role.INSPECTOR, Role.ADMIN]))
            .order_by(User.username)
        )
    )
    await seed_demo_layers(session, demo.county.id, county_outline(), user_ids=staff)
    # evidence: photos with EXIF GPS in parcels, at closed mine sites and along the patrols
    await _seed_evidence(session, demo, settings)


async def _seed_evidence(session: AsyncSession, demo: DemoCounty, settings: Settings) -> None:
    """About ten photos through the upload flow (bytes put with the object store)."""
    from evidence.demo import seed_demo_evidence  # noqa: PLC0415
    from infra.objectstore import S3ObjectStore  # noqa: PLC0415

    store = S3ObjectStore(settings.object_store)
    await store.ensure_bucket()
    await seed_demo_evidence(
        session, demo.county.id, store, settings.evidence, outline=county_outline()
    )
