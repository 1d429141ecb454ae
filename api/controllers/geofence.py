"""Reference layers: location checks, overlay, layer import and versions, mine sites, rosters.

Reads are open to every role of the county; layer imports are for admins, the mine-site
register and its rosters for admins and captains (the domain enforces both).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.datastructures import State, UploadFile
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, MultipartBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED
from shapely.geometry import mapping

import geofence as g
from api.deps import Caller, Db, Settings_
from api.problems import request_lang
from infra.messages import Lang, render
from mobile_contract.v1 import geofence as c

__all__ = ["GeofenceController", "LayerController", "MineSiteController"]

#: Largest layer file an admin may upload (a county's parcels are well under this).
MAX_LAYER_UPLOAD_BYTES = 512 * 1024 * 1024
_CHUNK = 1024 * 1024
IMPORT_JOBS_PATH = "/api/v1/geofence/layers/import-jobs"
_SUFFIX = re.compile(r"\.(geojson|json|zip|gpkg)$", re.IGNORECASE)


@dataclass
class LayerUpload:
    """A layer file with its kind, an optional CRS override (``EPSG:4527``, ``gcj02``,
    ``bd09``...) and field map (``k=v,k=v``); for a GeoPackage or zipped File Geodatabase the
    ``layer`` to read; for a Shapefile the text ``encoding`` (``gbk``, ``utf-8``; default: the
    ``.cpg``, else detected); a field-map ``preset`` (``land_survey``: DLTB with DLBM, DLMC,
    TBMJ); ``dry_run`` to check the file and report without storing anything."""

    file: UploadFile
    kind: c.LayerKindName
    crs: str | None = None
    field_map: str | None = None
    layer: str | None = None
    encoding: str | None = None
    preset: str | None = None
    dry_run: bool = False


async def _spool(upload: UploadFile, directory: Path) -> Path:
    """Copy the upload to a file in ``directory`` in chunks, refusing oversized files."""
    match = _SUFFIX.search(upload.filename or "")
    path = directory / f"upload{match.group(0).lower() if match else ''}"
    size = 0
    out = await asyncio.to_thread(path.open, "wb")
    try:
        while chunk := await upload.read(_CHUNK):
            size += len(chunk)
            if size > MAX_LAYER_UPLOAD_BYTES:
                msg = f"the file is larger than {MAX_LAYER_UPLOAD_BYTES // 2**20} MiB"
                raise g.UnsupportedFileError(msg, field="file")
            await asyncio.to_thread(out.write, chunk)  # disk writes stay off the event loop
    finally:
        await asyncio.to_thread(out.close)
    return path


# -- mapping -------------------------------------------------------------------------------


def _ref(v: g.LayerRef) -> c.LayerRef:
    return c.LayerRef(
        kind=c.LayerKindName(v.kind), version_id=v.version_id, version_no=v.version_no
    )


def _member(m: g.RosterEntry) -> c.RosterMember:
    return c.RosterMember(
        role=c.RosterRoleName(m.role),
        user_id=m.user_id,
        contact_name=m.contact_name,
        contact_phone=m.contact_phone,
        duty_period=c.DutyPeriodName(m.duty_period),
        duty_checks=m.duty_checks,
    )


def _site_state(s: g.SiteState) -> c.SiteState:
    return c.SiteState(
        status=c.MineStatusName(s.status),
        roster=[_member(m) for m in s.roster],
        missing_roles=[c.RosterRoleName(r) for r in s.missing_roles],
        roster_complete=not s.missing_roles,
    )


def _hit(h: g.FeatureHit) -> c.FeatureHit:
    return c.FeatureHit(
        kind=c.LayerKindName(h.kind),
        feature_id=h.feature_id,
        layer_version_id=h.layer_version_id,
        relation=c.RelationName(h.relation),
        distance_m=round(h.distance_m, 3),
        edge_distance_m=None if h.edge_distance_m is None else round(h.edge_distance_m, 3),
        land_class=c.LandClassName(h.land_class) if h.land_class else None,
        attributes=h.attributes,
        site=None if h.site is None else _site_state(h.site),
    )


def _check(r: g.CheckResult) -> c.CheckResult:
    return c.CheckResult(
        lon=r.lon,
        lat=r.lat,
        accuracy_m=r.accuracy_m,
        crs=c.CoordinateSystem(r.crs),
        input_lon=r.input_lon,
        input_lat=r.input_lat,
        features=[_hit(h) for h in r.features],
        layer_versions=[_ref(v) for v in r.layer_versions],
    )


_LAND_CLASSES: dict[str | None, c.LandClassName | None] = {None: None, "": None} | {
    m.value: m for m in c.LandClassName
}


def _layer_hits(col: g.HitColumns) -> list[c.FeatureHit]:
    """One layer's hits as contract Structs, in bulk: the enums and site states are looked up
    once per distinct value instead of once per hit (the same answer as :func:`_hit`)."""
    kind = c.LayerKindName(col.kind)
    version = col.version_id
    relations = {r: c.RelationName(r) for r in set(col.relation)}
    sites = {id(s): _site_state(s) for s in col.site if s is not None}
    land = _LAND_CLASSES
    return [
        c.FeatureHit(
            kind=kind,
            feature_id=fid,
            layer_version_id=version,
            relation=relations[rel],
            distance_m=dist,
            edge_distance_m=edge,
            land_class=land[lc],
            attributes=attrs,
            site=None if site is None else sites[id(site)],
        )
        for fid, rel, dist, edge, lc, attrs, site in zip(
            col.ids,
            col.relation,
            col.distance_m,
            col.edge_m,
            col.land_class,
            col.attributes,
            col.site,
            strict=True,
        )
    ]


def _batch(results: g.BatchResult) -> c.CheckLocationsResult:
    """Up to 10,000 answers built from the batch's columns (no per-point domain objects)."""
    lon, lat, outside = results.positions()
    layers = [(col.starts, _layer_hits(col)) for col in results.hit_columns()]
    answers = []
    for i in range(len(lon)):
        features: list[c.FeatureHit] = []
        for starts, hits in layers:
            lo, hi = starts[i], starts[i + 1]
            if lo != hi:
                features += hits[lo:hi]
        answers.append(
            c.PointResult(
                index=i, lon=lon[i], lat=lat[i], outside_county=outside[i], features=features
            )
        )
    return c.CheckLocationsResult(
        results=answers, layer_versions=[_ref(v) for v in results.layer_versions]
    )


def _area(figure: dict[str, float | None]) -> c.AreaFigure:
    return c.AreaFigure(m2=figure["m2"], mu=figure["mu"])


def _class(x: g.ClassArea) -> c.ClassArea:
    return c.ClassArea(
        land_class=c.LandClassName(x.land_class),
        area_m2=round(x.area_m2, 2),
        area_mu=round(x.area_mu, 4),
        parcels=x.parcels,
    )


def _overlay_site(s: g.OverlaySite) -> c.OverlaySite:
    return c.OverlaySite(
        site_id=s.site_id,
        code=s.code,
        name=s.name,
        site_kind=c.SiteKindName(s.site_kind),
        status=c.MineStatusName(s.status),
        overlap_m2=round(s.overlap_m2, 2),
        overlap_mu=round(g.to_mu(s.overlap_m2), 4),
    )


def _overlay_change(x: g.OverlayChange) -> c.OverlayChange:
    return c.OverlayChange(
        feature_id=x.feature_id,
        monitoring_no=x.monitoring_no,
        batch_year=x.batch_year,
        batch_quarter=x.batch_quarter,
        overlap_m2=round(x.overlap_m2, 2),
        overlap_mu=round(g.to_mu(x.overlap_m2), 4),
    )


def _overlay(r: g.OverlayResult) -> c.OverlayResult:
    j = r.to_json()
    use, plan = j["current_use"], j["planning"]
    return c.OverlayResult(
        area_m2=j["area_m2"],
        area_mu=j["area_mu"],
        land_classes=[_class(x) for x in r.land_classes],
        unmapped=_area(j["unmapped"]),
        current_use=c.CurrentUse(**{k: _area(v) for k, v in use.items()}),
        planning=c.Planning(
            conforming=_area(plan["conforming"]),
            not_conforming=_area(plan["not_conforming"]),
            not_conforming_basic_farmland=_area(plan["not_conforming_basic_farmland"]),
            not_conforming_ecological=_area(plan["not_conforming_ecological"]),
            zones=[c.ZoneArea(zone_kind=k, area=_area(v)) for k, v in plan["zones"].items()],
        ),
        mine_sites=[_overlay_site(s) for s in r.mine_sites],
        change_polygons=[_overlay_change(x) for x in r.change_polygons],
        layer_versions=[_ref(v) for v in r.layer_versions],
    )


def _issue(i: g.FeatureIssue, lang: Lang) -> c.FeatureIssue:
    return c.FeatureIssue(feature=i.feature_no, reason=i.text(lang), code=i.code or None)


def _issues(items: Any, lang: Lang) -> list[c.FeatureIssue]:
    return [_issue(g.FeatureIssue.from_json(i), lang) for i in items]


def _summary(s: g.ImportSummary, lang: Lang) -> c.ImportSummary:
    return c.ImportSummary(
        layer_version_id=s.layer_version_id or uuid.UUID(int=0),  # nil: a dry run
        kind=c.LayerKindName(s.kind),
        version_no=s.version_no,
        source_format=s.source_format,
        source_crs=s.source_crs,
        read=s.read,
        stored=s.stored,
        repaired=s.repaired,
        rejected=s.rejected,
        repairs=[_issue(i, lang) for i in s.repairs],
        rejections=[_issue(i, lang) for i in s.rejections],
        dry_run=s.dry_run,
        encoding=s.encoding,
        source_layer=s.source_layer,
        warnings=[
            c.ImportWarning(code=w.code, detail=w.text(lang), suggested_crs=w.suggested_crs)
            for w in s.warnings
        ],
    )


def _job(j: g.ImportJobInfo, lang: Lang) -> c.ImportJob:
    return c.ImportJob(
        id=j.id,
        state=c.ImportJobState(j.state),
        kind=c.LayerKindName(j.kind),
        source_name=j.source_name,
        source_bytes=j.source_bytes,
        total=j.total,
        read=j.read,
        stored=j.stored,
        repaired=j.repaired,
        rejected=j.rejected,
        rejections=[_issue(i, lang) for i in j.rejections],
        result=None if j.summary is None else _summary(j.summary, lang),
        error=None
        if j.error_code is None
        else c.ImportJobError(
            code=j.error_code, detail=render(j.error_code, lang, None, j.error_detail)
        ),
        created_at=j.created_at,
        started_at=j.started_at,
        heartbeat_at=j.heartbeat_at,
        finished_at=j.finished_at,
    )


def _version(v: g.LayerVersionInfo) -> c.LayerVersion:
    return c.LayerVersion(
        id=v.id,
        kind=c.LayerKindName(v.kind),
        version_no=v.version_no,
        source_name=v.source_name,
        source_format=v.source_format,
        source_crs=v.source_crs,
        read=v.read_count,
        stored=v.stored_count,
        repaired=v.repaired_count,
        rejected=v.rejected_count,
        note=v.note,
        created_by=v.created_by,
        created_at=v.created_at,
    )


def _version_detail(
    found: tuple[g.LayerVersionInfo, dict[str, Any]], lang: Lang
) -> c.LayerVersionDetail:
    info, report = found
    return c.LayerVersionDetail(
        version=_version(info),
        repairs=_issues(report.get("repairs", []), lang),
        rejections=_issues(report.get("rejections", []), lang),
        report_truncated=bool(report.get("truncated", False)),
    )


def _feature(f: g.FeatureRecord) -> c.LayerFeature:
    return c.LayerFeature(
        id=f.id,
        feature_no=f.feature_no,
        properties=f.properties,
        geometry=dict(mapping(f.geometry)),
    )


def _site(s: g.MineSiteInfo) -> c.MineSite:
    return c.MineSite(
        id=s.id,
        code=s.code,
        site_kind=c.SiteKindName(s.site_kind),
        name=s.name,
        mineral=s.mineral,
        closed_on=s.closed_on,
        closure_method=c.ClosureMethodName(s.closure_method),
        status=c.MineStatusName(s.status),
        signboard=s.signboard,
        signboard_text=s.signboard_text,
        geometry=dict(mapping(s.geometry)),
        layer_version_id=s.layer_version_id,
        roster=[_member(m) for m in s.roster],
        missing_roles=[c.RosterRoleName(r) for r in s.missing_roles],
        roster_complete=s.roster_complete,
    )


def _site_input(data: c.MineSiteCreate) -> g.SiteInput:
    return g.SiteInput(
        code=data.code,
        name=data.name,
        geometry=g.parse_geojson_geometry(data.geometry, field="geometry"),
        site_kind=data.site_kind.value,
        mineral=data.mineral,
        closed_on=data.closed_on,
        closure_method=data.closure_method.value,
        status=data.status.value,
        signboard=data.signboard,
        signboard_text=data.signboard_text,
    )


def _member_input(role: c.RosterRoleName, data: c.RosterMemberSet) -> g.RosterMemberInput:
    return g.RosterMemberInput(
        role=role.value,
        user_id=data.user_id,
        contact_name=data.contact_name,
        contact_phone=data.contact_phone,
        duty_period=data.duty_period.value if data.duty_period else None,
        duty_checks=data.duty_checks,
    )


def _kinds(kinds: list[c.LayerKindName] | None) -> list[str] | None:
    return None if kinds is None else [k.value for k in kinds]


# -- controllers -----------------------------------------------------------------------------


class GeofenceController(Controller):
    path = "/geofence"
    tags = ["geofence"]  # noqa: RUF012

    @post(
        "/check",
        operation_id="CheckLocation",
        status_code=HTTP_200_OK,
        summary="Which features does a GPS fix touch",
    )
    async def check_location(
        self, data: JSONBody[c.CheckLocationRequest], db: Db, principal: Caller
    ) -> c.CheckResult:
        """Every feature of the county's current layers within the accuracy circle."""
        result = await g.check_location(
            db,
            principal.county_id,
            data.lon,
            data.lat,
            data.accuracy_m,
            crs=data.crs.value,
            kinds=_kinds(data.kinds),
        )
        return _check(result)

    @post(
        "/check-batch",
        operation_id="CheckLocations",
        status_code=HTTP_200_OK,
        summary="Check up to 10,000 fixes (a track)",
    )
    async def check_locations(
        self, data: JSONBody[c.CheckLocationsRequest], db: Db, principal: Caller
    ) -> c.CheckLocationsResult:
        """Per-point answers in order; a point far outside the county is flagged, not failed."""
        points = [(p.lon, p.lat, p.accuracy_m) for p in data.points]
        results = await g.check_locations(
            db, principal.county_id, points, crs=data.crs.value, kinds=_kinds(data.kinds)
        )
        # up to 10,000 answers to build: on a worker thread, off the event loop
        return await asyncio.to_thread(_batch, results)

    @post(
        "/overlay",
        operation_id="OverlayArea",
        status_code=HTTP_200_OK,
        summary="Overlay a walked boundary on the layers",
    )
    async def overlay_area(
        self, data: JSONBody[c.OverlayRequest], db: Db, principal: Caller
    ) -> c.OverlayResult:
        """Areas by land class (m² and mu), plan conformity, mine sites and change polygons.

        The polygon may have at most 200,000 vertices (422 ``too_many_vertices`` above);
        the geometry work runs off the event loop.
        """
        return _overlay(await g.overlay_area(db, principal, data.polygon, field="polygon"))


class LayerController(Controller):
    path = "/geofence/layers"
    tags = ["geofence"]  # noqa: RUF012

    @post(
        "/import",
        operation_id="ImportLayer",
        status_code=HTTP_200_OK,
        request_max_body_size=MAX_LAYER_UPLOAD_BYTES,
        summary="Import a layer file as a new version (admin)",
        responses={
            HTTP_202_ACCEPTED: ResponseSpec(
                data_container=c.ImportJob,
                description="A large file: imported in the background; follow Location "
                "(GetImportJob) for progress and the result",
            )
        },
    )
    async def import_layer(  # noqa: PLR0917 - Litestar injects each by name
        self,
        data: MultipartBody[LayerUpload],
        db: Db,
        principal: Caller,
        settings: Settings_,
        state: State,
        request: Request[Any, Any, Any],
    ) -> Response[c.ImportSummary]:
        """GeoJSON, zipped Shapefile, GeoPackage or zipped File Geodatabase; repairs,
        rejections and warnings (e.g. coordinates that look GCJ-02/BD-09) are reported.
        ``dry_run`` reports the same without creating a version.

        A file up to ``PATROL_LAYER_IMPORT_JOB_BYTES`` (8 MiB by default) is imported within
        the request (200, the summary). A larger one answers 202 at once with an import job
        and a ``Location`` header; ``GetImportJob`` reports its progress and result.
        """
        tmp = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="layer-"))
        try:
            path = await _spool(data.file, tmp)
            field_map = g.parse_field_map(data.field_map)
            options: dict[str, Any] = {
                "layer": data.layer or None, "encoding": data.encoding or None,
                "preset": data.preset or None, "dry_run": data.dry_run,
            }  # fmt: skip
            source_name = data.file.filename or path.name
            if (await asyncio.to_thread(path.stat)).st_size > settings.layers.import_job_bytes:
                runner: g.ImportJobRunner = state.import_jobs
                job = await runner.submit(
                    principal, path, data.kind.value, source_name=source_name,
                    crs=data.crs or None, field_map=field_map, **options,
                )  # fmt: skip
                # the 202 body is an ImportJob (documented above); the annotation names the 200
                accepted: Any = _job(job, request_lang(request))
                return Response(
                    accepted,
                    status_code=HTTP_202_ACCEPTED,
                    headers={"Location": f"{IMPORT_JOBS_PATH}/{job.id}"},
                )
            summary = await g.import_layer_upload(
                db, principal, path, data.kind.value, source_name=source_name,
                crs=data.crs or None, field_map=field_map, **options,
            )  # fmt: skip
        finally:
            await asyncio.to_thread(shutil.rmtree, tmp, True)
        return Response(_summary(summary, request_lang(request)))

    @get(
        "/import-jobs/{job_id:uuid}",
        operation_id="GetImportJob",
        summary="A background layer import: state, progress, result (admin)",
    )
    async def get_import_job(
        self,
        job_id: FromPath[uuid.UUID],
        db: Db,
        principal: Caller,
        request: Request[Any, Any, Any],
    ) -> c.ImportJob:
        """queued, running, done (``result`` is the new layer version) or failed (``error``).

        Counts and the first 1,000 rejections with their reasons are updated every few
        seconds while the import runs. A job whose server stopped during the import is
        reported failed (``import_abandoned``) once its lease has run out. Another county's
        job is not found (404 ``import_job_not_found``).
        """
        return _job(await g.get_import_job(db, principal, job_id), request_lang(request))

    @get("/versions", operation_id="ListLayerVersions", summary="Layer versions of the county")
    async def list_versions(
        self, db: Db, principal: Caller, kind: FromQuery[c.LayerKindName | None] = None
    ) -> list[c.LayerVersion]:
        """Every version, newest first per kind; the highest version of a kind is current."""
        versions = await g.list_layer_versions(db, principal, kind=kind.value if kind else None)
        return [_version(v) for v in versions]

    @get(
        "/versions/{version_id:uuid}",
        operation_id="GetLayerVersion",
        summary="One layer version with its import report",
    )
    async def get_version(
        self,
        version_id: FromPath[uuid.UUID],
        db: Db,
        principal: Caller,
        request: Request[Any, Any, Any],
    ) -> c.LayerVersionDetail:
        """A version of the caller's county, with its repairs and rejections."""
        found = await g.get_layer_version(db, principal, version_id)
        return _version_detail(found, request_lang(request))

    @get(
        "/versions/{version_id:uuid}/features",
        operation_id="ListLayerFeatures",
        summary="Features of a layer version, current or old",
    )
    async def list_features(
        self,
        version_id: FromPath[uuid.UUID],
        db: Db,
        principal: Caller,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 500,
        offset: Annotated[int, QueryParameter(ge=0, le=10_000_000)] = 0,
    ) -> list[c.LayerFeature]:
        """Paged in feature order; a ``mine_sites`` version shows the register as it stood."""
        rows = await g.read_layer_features(db, principal, version_id, limit=limit, offset=offset)
        return [_feature(f) for f in rows]


class MineSiteController(Controller):
    path = "/geofence"
    tags = ["geofence"]  # noqa: RUF012

    @get("/mine-sites", operation_id="ListMineSites", summary="Closed-mine and dredging sites")
    async def list_sites(
        self,
        db: Db,
        principal: Caller,
        site_kind: FromQuery[c.SiteKindName | None] = None,
        status: FromQuery[c.MineStatusName | None] = None,
        incomplete_only: FromQuery[bool] = False,
    ) -> list[c.MineSite]:
        """Sites by code with rosters; ``incomplete_only`` lists sites missing a roster role."""
        sites = await g.list_mine_sites(
            db,
            principal,
            site_kind=site_kind.value if site_kind else None,
            status=status.value if status else None,
            incomplete_only=incomplete_only,
        )
        return [_site(s) for s in sites]

    @post("/mine-sites", operation_id="CreateMineSite", summary="Register a site (admin, captain)")
    async def create_site(
        self, data: JSONBody[c.MineSiteCreate], db: Db, principal: Caller
    ) -> c.MineSite:
        """A closed mine (polygon or point) or a removed dredging boat (point)."""
        return _site(await g.create_mine_site(db, principal, _site_input(data)))

    @get("/mine-sites/{site_id:uuid}", operation_id="GetMineSite", summary="One site")
    async def get_site(self, site_id: FromPath[uuid.UUID], db: Db, principal: Caller) -> c.MineSite:
        """A site of the caller's county with its five-to-one roster."""
        return _site(await g.get_mine_site(db, principal, site_id))

    @put(
        "/mine-sites/{site_id:uuid}",
        operation_id="UpdateMineSite",
        summary="Replace a site's attributes and geometry (admin, captain)",
    )
    async def update_site(
        self,
        site_id: FromPath[uuid.UUID],
        data: JSONBody[c.MineSiteCreate],
        db: Db,
        principal: Caller,
    ) -> c.MineSite:
        """The full new state; every change makes a new register version."""
        return _site(await g.update_mine_site(db, principal, site_id, _site_input(data)))

    @post(
        "/mine-sites/{site_id:uuid}/status",
        operation_id="SetMineSiteStatus",
        status_code=HTTP_200_OK,
        summary="Record a site's status (admin, captain)",
    )
    async def set_status(
        self,
        site_id: FromPath[uuid.UUID],
        data: JSONBody[c.MineSiteStatusChange],
        db: Db,
        principal: Caller,
    ) -> c.MineSite:
        """closed / signs_of_reopening / reopened / remediated."""
        return _site(await g.change_site_status(db, principal, site_id, data.status.value))

    @put(
        "/mine-sites/{site_id:uuid}/roster/{role:str}",
        operation_id="SetRosterMember",
        summary="Give a five-to-one role to a user or contact (admin, captain)",
    )
    async def set_member(
        self,
        site_id: FromPath[uuid.UUID],
        role: FromPath[c.RosterRoleName],
        data: JSONBody[c.RosterMemberSet],
        db: Db,
        principal: Caller,
    ) -> c.MineSite:
        """A user of the county, or an external contact with name and phone."""
        member = _member_input(role, data)
        return _site(await g.set_roster_member(db, principal, site_id, member))

    @delete(
        "/mine-sites/{site_id:uuid}/roster/{role:str}",
        operation_id="RemoveRosterMember",
        status_code=HTTP_200_OK,
        summary="Vacate a five-to-one role (admin, captain)",
    )
    async def remove_member(
        self,
        site_id: FromPath[uuid.UUID],
        role: FromPath[c.RosterRoleName],
        db: Db,
        principal: Caller,
    ) -> c.MineSite:
        """The site then reports an incomplete roster."""
        return _site(await g.remove_roster_member(db, principal, site_id, role.value))

    @get("/roster-report", operation_id="GetRosterReport", summary="Five-to-one completeness")
    async def roster_report(self, db: Db, principal: Caller) -> c.RosterReport:
        """How many sites have all five roles held, and the sites that do not."""
        report = await g.roster_report(db, principal)
        return c.RosterReport(
            total_sites=report.total_sites,
            complete=report.complete,
            incomplete=[_site(s) for s in report.incomplete],
        )
