"""Reference layers: importing a file as a new version, background import jobs, versions
and their features.

Reads are open to every role of the county, imports are for admins (the domain enforces
it). Every handler is one call of the geofence service
(:class:`~geofence.service.GeofenceService`) and a mapping; the upload itself is spooled to
a temporary file here, which the service imports or queues.
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

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, MultipartBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED
from shapely.geometry import mapping

import geofence as g
from api.deps import Caller, Geofence
from api.problems import request_lang
from infra.messages import Lang, render
from mobile_contract.v1 import geofence as c

__all__ = ["MAX_LAYER_UPLOAD_BYTES", "LayerController"]

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


# -- controllers -----------------------------------------------------------------------------


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
    async def import_layer(
        self,
        data: MultipartBody[LayerUpload],
        geofence: Geofence,
        principal: Caller,
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
            done = await geofence.import_layer(
                principal, path, data.kind.value, source_name=data.file.filename or path.name,
                crs=data.crs or None, field_map=data.field_map, layer=data.layer or None,
                encoding=data.encoding or None, preset=data.preset or None, dry_run=data.dry_run,
            )  # fmt: skip
        finally:
            await asyncio.to_thread(shutil.rmtree, tmp, True)
        if isinstance(done, g.ImportJobInfo):
            # the 202 body is an ImportJob (documented above); the annotation names the 200
            accepted: Any = _job(done, request_lang(request))
            return Response(
                accepted,
                status_code=HTTP_202_ACCEPTED,
                headers={"Location": f"{IMPORT_JOBS_PATH}/{done.id}"},
            )
        return Response(_summary(done, request_lang(request)))

    @get(
        "/import-jobs/{job_id:uuid}",
        operation_id="GetImportJob",
        summary="A background layer import: state, progress, result (admin)",
    )
    async def get_import_job(
        self,
        job_id: FromPath[uuid.UUID],
        geofence: Geofence,
        principal: Caller,
        request: Request[Any, Any, Any],
    ) -> c.ImportJob:
        """queued, running, done (``result`` is the new layer version) or failed (``error``).

        Counts and the first 1,000 rejections with their reasons are updated every few
        seconds while the import runs. A job whose server stopped during the import is
        reported failed (``import_abandoned``) once its lease has run out. Another county's
        job is not found (404 ``import_job_not_found``).
        """
        return _job(await geofence.get_import_job(principal, job_id), request_lang(request))

    @get("/versions", operation_id="ListLayerVersions", summary="Layer versions of the county")
    async def list_versions(
        self, geofence: Geofence, principal: Caller, kind: FromQuery[c.LayerKindName | None] = None
    ) -> list[c.LayerVersion]:
        """Every version, newest first per kind; the highest version of a kind is current."""
        versions = await geofence.list_layer_versions(principal, kind=kind.value if kind else None)
        return [_version(v) for v in versions]

    @get(
        "/versions/{version_id:uuid}",
        operation_id="GetLayerVersion",
        summary="One layer version with its import report",
    )
    async def get_version(
        self,
        version_id: FromPath[uuid.UUID],
        geofence: Geofence,
        principal: Caller,
        request: Request[Any, Any, Any],
    ) -> c.LayerVersionDetail:
        """A version of the caller's county, with its repairs and rejections."""
        found = await geofence.get_layer_version(principal, version_id)
        return _version_detail(found, request_lang(request))

    @get(
        "/versions/{version_id:uuid}/features",
        operation_id="ListLayerFeatures",
        summary="Features of a layer version, current or old",
    )
    async def list_features(
        self,
        version_id: FromPath[uuid.UUID],
        geofence: Geofence,
        principal: Caller,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 500,
        offset: Annotated[int, QueryParameter(ge=0, le=10_000_000)] = 0,
    ) -> list[c.LayerFeature]:
        """Paged in feature order; a ``mine_sites`` version shows the register as it stood."""
        rows = await geofence.read_layer_features(principal, version_id, limit=limit, offset=offset)
        return [_feature(f) for f in rows]
