"""Satellite campaign figures and exports (captains and admins).

``GetSatelliteFigures`` answers a batch's figures per township and for the county, with the
cultivated-land indicator against the configured threshold; ``ExportSatelliteBatch`` streams
the national XLSX table or a GeoJSON layer of the batch, each export recorded in the custody
chain. Another county's batch does not exist (404 ``satellite_batch_not_found``). Each
handler is one call of :class:`~evidence.cases.satellite_figures.SatelliteFiguresService`
and a mapping.
"""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from litestar import Controller, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream

from api.deps import Caller, Db, Settings_
from api.mapping import to_wire
from evidence.cases.satellite_export import ExportFile
from evidence.cases.satellite_figures import SatelliteFiguresService
from evidence.custody import CustodyLog
from infra.db import utcnow
from mobile_contract.v1 import satellite_figures as s

__all__ = ["SatelliteFiguresController"]


def provide_satellite_figures(db: Db, settings: Settings_, state: State) -> SatelliteFiguresService:
    # exports append to the custody chain, keyed like the evidence service's; ``state.clock``
    # (a fixed clock a test or a drill sets) replaces the server's when set
    return SatelliteFiguresService(
        db,
        settings.satellite,
        CustodyLog(settings.evidence.package_signing_key.encode()),
        clock=state.get("clock") or utcnow,
    )


SatelliteFigures = NamedDependency[SatelliteFiguresService]


def _download(export: ExportFile) -> Stream:
    """The file with its (Chinese) name: an ASCII fallback and RFC 5987 ``filename*``."""
    name = export.file_name
    plain = "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "-_." else "_" for ch in name)
    return Stream(
        export.chunks(),
        media_type=export.media_type,
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"
            ),
            "Content-Length": str(export.size),
            "X-Content-Sha256": export.sha256,
        },
    )


class SatelliteFiguresController(Controller):
    path = "/satellite/batches"
    tags = ["satellite"]  # noqa: RUF012
    dependencies = {  # noqa: RUF012
        "satellite_figures": Provide(provide_satellite_figures, sync_to_thread=False)
    }

    @get(
        "/{batch_id:uuid}/figures",
        operation_id="GetSatelliteFigures",
        summary="A satellite batch's figures per township (captain, admin)",
    )
    async def get_figures(
        self, batch_id: FromPath[uuid.UUID], satellite_figures: SatelliteFigures, principal: Caller
    ) -> s.SatelliteFigures:
        """Polygons, verified, overdue (by the county's day), outcomes with their areas,
        illegal occupation of cultivated land and basic farmland, newly built land, and the
        share of illegally occupied cultivated land against ``ratioThreshold``."""
        view = await satellite_figures.figures(principal, batch_id)
        return to_wire(s.SatelliteFigures, view)

    @get(
        "/{batch_id:uuid}/export",
        operation_id="ExportSatelliteBatch",
        summary="A satellite batch as the national XLSX table or GeoJSON (captain, admin)",
    )
    async def export(
        self,
        batch_id: FromPath[uuid.UUID],
        satellite_figures: SatelliteFigures,
        principal: Caller,
        export_format: Annotated[
            s.SatelliteExportFormat, QueryParameter(name="format")
        ] = s.SatelliteExportFormat.XLSX,
    ) -> Stream:
        """``format=xlsx`` (遥感监测图斑核查情况一览表: merged two-level headers, a row per
        polygon, a totals row) or ``format=geojson`` (a feature per polygon with the task,
        its current result, review, submission and case). Recorded in the custody chain."""
        export = await satellite_figures.export(principal, batch_id, export_format.value)
        return _download(export)
