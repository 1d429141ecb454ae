"""The settings in force for a county, as its captains and admins need to see them.

Deadlines and thresholds the brigade works to come from the server's settings
(:mod:`infra.settings`), some per province (a 12336 clue's working days). This module picks
the figures that apply to the caller's county and names them; it never shows a secret, a
connection or a limit that only concerns the server's operators.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from infra import error_codes as codes
from infra.errors import NotFoundError
from infra.scope import Principal, Role, require_role
from infra.settings import (
    ProcedureSettings,
    ReportSettings,
    SatelliteSettings,
    Settings,
    TipOffDeadlines,
)
from patrol.models import County

__all__ = ["SETTINGS_READERS", "CountySettingsView", "county_settings"]

#: Who reads the county's settings: the captains who work to them and the admins who run them.
SETTINGS_READERS = (Role.CAPTAIN, Role.ADMIN)


@dataclass(frozen=True, slots=True)
class CountySettingsView:
    """The figures in force for one county.

    ``tip_offs``: a 12336 clue's working days (of the county's province);
    ``duplicate_radius_m``: how near a new clue about the same party repeats an open one;
    ``layer_import_job_bytes``: layer files above this size are imported in the background;
    ``max_layer_upload_bytes``: the largest layer file accepted.
    """

    county_id: uuid.UUID
    county_name: str
    province_code: str
    tip_offs: TipOffDeadlines
    duplicate_radius_m: float
    procedure: ProcedureSettings
    satellite: SatelliteSettings
    reports: ReportSettings
    layer_import_job_bytes: int
    max_layer_upload_bytes: int


async def county_settings(
    session: AsyncSession, principal: Principal, settings: Settings, *, max_layer_upload_bytes: int
) -> CountySettingsView:
    """The settings in force for the caller's county (captains and admins)."""
    require_role(principal, *SETTINGS_READERS, action="read the county's settings")
    county = await session.get(County, principal.county_id)
    if county is None:  # pragma: no cover - a user always belongs to a county
        raise NotFoundError("county not found", code=codes.COUNTY_NOT_FOUND)
    return CountySettingsView(
        county_id=county.id,
        county_name=county.name,
        province_code=county.province_code,
        tip_offs=settings.tip_offs.for_province(county.province_code),
        duplicate_radius_m=settings.tip_offs.duplicate_radius_m,
        procedure=settings.procedure,
        satellite=settings.satellite,
        reports=settings.reports,
        layer_import_job_bytes=settings.layers.import_job_bytes,
        max_layer_upload_bytes=max_layer_upload_bytes,
    )
