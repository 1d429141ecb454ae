"""Demo data beyond the county frame: each package's seeder, called once on first start."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from infra.settings import Settings
from patrol.demo import DemoCounty

__all__ = ["seed_demo_extras"]


async def seed_demo_extras(session: AsyncSession, demo: DemoCounty, settings: Settings) -> None:
    """Layers, patrols, evidence and cases for the demo county (added as packages land)."""
    del session, demo, settings
