"""The geofence service: one entry point to reference layers for a request (or a command).

Usage (one request = one session = one transaction, committed by the caller)::

    geofence = GeofenceService(session, import_jobs=runner, settings=settings.layers)
    result = await geofence.check_location(principal, lon, lat, accuracy_m)
    done = await geofence.import_layer(principal, path, "parcels", source_name="dltb.zip")
    await session.commit()

The service is bound to a session, the background import runner (large uploads become
jobs, :mod:`geofence.jobs`) and the layer settings (what "large" is). Its methods wrap the
module functions of :mod:`geofence.check`, :mod:`geofence.overlay`, :mod:`geofence.importer`,
:mod:`geofence.jobs`, :mod:`geofence.layers` and :mod:`geofence.mines`, which stay the
reference for each rule; every method answers domain views, never ORM rows.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.ext.asyncio import AsyncSession

from geofence.check import BatchResult, CheckResult, check_location, check_locations
from geofence.importer import ImportSummary, import_layer_upload, parse_field_map
from geofence.jobs import ImportJobInfo, ImportJobRunner, get_import_job
from geofence.layers import (
    FeatureRecord,
    LayerVersionInfo,
    get_layer_version,
    list_layer_versions,
    read_layer_features,
)
from geofence.mines import (
    MineSiteInfo,
    RosterMemberInput,
    RosterReport,
    SiteInput,
    change_site_status,
    create_mine_site,
    get_mine_site,
    list_mine_sites,
    remove_roster_member,
    roster_report,
    set_roster_member,
    update_mine_site,
)
from geofence.overlay import OverlayResult, overlay_area
from infra.scope import Principal
from infra.settings import LayerSettings

__all__ = ["GeofenceService"]


class GeofenceService:
    """Location checks, overlay, layer imports and versions, mine sites and their rosters."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        import_jobs: ImportJobRunner,
        settings: LayerSettings,
    ) -> None:
        self.session = session
        self._import_jobs = import_jobs
        self._settings = settings

    # -- checks and overlay ------------------------------------------------------------------
    async def check_location(
        self,
        principal: Principal,
        lon: float,
        lat: float,
        accuracy_m: float,
        *,
        crs: str = "wgs84",
        kinds: Sequence[str] | None = None,
    ) -> CheckResult:
        return await check_location(
            self.session, principal.county_id, lon, lat, accuracy_m, crs=crs, kinds=kinds
        )

    async def check_locations(
        self,
        principal: Principal,
        points: Sequence[tuple[float, float, float]] | npt.NDArray[np.float64],
        *,
        crs: str = "wgs84",
        kinds: Sequence[str] | None = None,
    ) -> BatchResult:
        return await check_locations(
            self.session, principal.county_id, points, crs=crs, kinds=kinds
        )

    async def overlay_area(
        self, principal: Principal, polygon: dict[str, Any], *, field: str = "polygon"
    ) -> OverlayResult:
        return await overlay_area(self.session, principal, polygon, field=field)

    # -- layer imports and versions ----------------------------------------------------------
    async def import_layer(
        self,
        principal: Principal,
        path: Path,
        kind: str,
        *,
        source_name: str,
        crs: str | None = None,
        field_map: str | None = None,
        layer: str | None = None,
        encoding: str | None = None,
        preset: str | None = None,
        dry_run: bool = False,
    ) -> ImportSummary | ImportJobInfo:
        """A file up to ``import_job_bytes`` is imported now (its summary); a larger one is
        staged and queued as a background job (the job, queued)."""
        fields = parse_field_map(field_map)
        options: dict[str, Any] = {
            "source_name": source_name, "crs": crs, "field_map": fields,
            "layer": layer, "encoding": encoding, "preset": preset, "dry_run": dry_run,
        }  # fmt: skip
        if (await asyncio.to_thread(path.stat)).st_size > self._settings.import_job_bytes:
            return await self._import_jobs.submit(principal, path, kind, **options)
        return await import_layer_upload(self.session, principal, path, kind, **options)

    async def get_import_job(self, principal: Principal, job_id: uuid.UUID) -> ImportJobInfo:
        return await get_import_job(self.session, principal, job_id)

    async def list_layer_versions(
        self, principal: Principal, *, kind: str | None = None
    ) -> list[LayerVersionInfo]:
        return await list_layer_versions(self.session, principal, kind=kind)

    async def get_layer_version(
        self, principal: Principal, version_id: uuid.UUID
    ) -> tuple[LayerVersionInfo, dict[str, Any]]:
        """The version with its import report (repairs, rejections, ``truncated``)."""
        return await get_layer_version(self.session, principal, version_id)

    async def read_layer_features(
        self, principal: Principal, version_id: uuid.UUID, *, limit: int = 1000, offset: int = 0
    ) -> list[FeatureRecord]:
        return await read_layer_features(
            self.session, principal, version_id, limit=limit, offset=offset
        )

    # -- mine sites and rosters --------------------------------------------------------------
    async def list_mine_sites(
        self,
        principal: Principal,
        *,
        site_kind: str | None = None,
        status: str | None = None,
        incomplete_only: bool = False,
    ) -> list[MineSiteInfo]:
        return await list_mine_sites(
            self.session,
            principal,
            site_kind=site_kind,
            status=status,
            incomplete_only=incomplete_only,
        )

    async def create_mine_site(self, principal: Principal, data: SiteInput) -> MineSiteInfo:
        return await create_mine_site(self.session, principal, data)

    async def get_mine_site(self, principal: Principal, site_id: uuid.UUID) -> MineSiteInfo:
        return await get_mine_site(self.session, principal, site_id)

    async def update_mine_site(
        self, principal: Principal, site_id: uuid.UUID, data: SiteInput
    ) -> MineSiteInfo:
        return await update_mine_site(self.session, principal, site_id, data)

    async def change_site_status(
        self, principal: Principal, site_id: uuid.UUID, status: str, *, reason: str = ""
    ) -> MineSiteInfo:
        return await change_site_status(self.session, principal, site_id, status, reason=reason)

    async def set_roster_member(
        self, principal: Principal, site_id: uuid.UUID, member: RosterMemberInput
    ) -> MineSiteInfo:
        return await set_roster_member(self.session, principal, site_id, member)

    async def remove_roster_member(
        self, principal: Principal, site_id: uuid.UUID, role: str
    ) -> MineSiteInfo:
        return await remove_roster_member(self.session, principal, site_id, role)

    async def roster_report(self, principal: Principal) -> RosterReport:
        return await roster_report(self.session, principal)
