"""Evidence: uploads straight to storage, verified originals, derivatives and custody.

Every role uploads its own evidence; who sees what is the domain's rule (captains and admins
the county, inspectors and joint teams their own, the security squad case-linked evidence).
Every upload call is idempotent on the phone's evidence id.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

import evidence as ev
from api.deps import Caller, EvidenceSvc
from api.metrics import count_evidence_intake
from evidence.models import CustodyEntry, Derivative, Evidence
from infra.objectstore import PresignedRequest
from mobile_contract.v1 import evidence as c

__all__ = ["EvidenceController", "UploadController"]


# -- mapping -------------------------------------------------------------------------------

_S = TypeVar("_S", bound=msgspec.Struct)


def _struct_of(kind: Any) -> type[msgspec.Struct] | None:
    """The Struct type of a field typed ``S`` or ``S | None``."""
    for member in getattr(kind, "__args__", (kind,)):
        if isinstance(member, type) and issubclass(member, msgspec.Struct):
            return member
    return None


@functools.cache
def _plan(cls: type[msgspec.Struct]) -> tuple[tuple[str, str, Any, Any], ...]:
    """Per member of ``cls``: its name, its stored key (``from_`` is stored as ``from``),
    its Struct type if it is one, and its type."""
    return tuple(
        (f.name, f.name.rstrip("_"), _struct_of(f.type), f.type)
        for f in msgspec.structs.fields(cls)
    )


def _typed(cls: type[_S], data: Mapping[str, Any]) -> _S | None:
    """A stored snake_case JSON object as the contract's typed Struct ``cls``.

    Member by member: a member missing from ``data`` or not of the type the contract says
    (a row written by an older release) is left out rather than failing the answer; members
    the contract does not name stay in the deprecated untyped field only. ``None`` when a
    member ``cls`` requires is missing.
    """
    values: dict[str, Any] = {}
    for name, key, nested, kind in _plan(cls):
        raw = data.get(key)
        if raw is None:
            continue
        if nested is not None:
            member = _typed(nested, raw) if isinstance(raw, Mapping) else None
            if member is not None:
                values[name] = member
            continue
        try:
            values[name] = msgspec.convert(raw, kind)
        except (msgspec.ValidationError, TypeError):
            continue
    try:
        return cls(**values)
    except TypeError:
        return None


def _new_upload(evidence_id: uuid.UUID, d: c.CreateUploadRequest) -> ev.NewUpload:
    fix = ev.ClaimedFix(
        lon=d.fix.lon, lat=d.fix.lat, accuracy_m=d.fix.accuracy_m, crs=d.fix.crs.value, at=d.fix.at
    )
    return ev.NewUpload(
        evidence_id=evidence_id,
        sha256=d.sha256.lower(),
        size_bytes=d.size_bytes,
        content_type=d.content_type,
        fix=fix,
        file_name=d.file_name,
        content_md5=d.content_md5,
        part_size=d.part_size,
        part_md5s=d.part_md5s,
        claimed_captured_at=d.claimed_captured_at,
        heading_deg=d.heading_deg,
        patrol_session_id=d.patrol_id,
        finding_id=d.finding_id,
        mine_site_id=d.mine_site_id,
        case_id=d.case_id,
        tip_off_id=d.tip_off_id,
        caption=d.caption,
        proves=d.proves,
        view_type=d.view_type.value if d.view_type else None,
    )


def _request(part_number: int | None, r: PresignedRequest) -> c.UploadRequest:
    return c.UploadRequest(
        part_number=part_number,
        method=r.method,
        url=r.url,
        headers=dict(r.headers),
        expires_at=r.expires_at,
    )


def _ticket(t: ev.UploadTicket) -> c.UploadTicket:
    return c.UploadTicket(
        evidence_id=t.evidence_id,
        status=c.UploadStatusName(t.status),
        attempt=t.attempt,
        method=c.UploadMethodName(t.method),
        size_bytes=t.size_bytes,
        part_size=t.part_size,
        part_count=t.part_count,
        parts_received=[
            c.PartReceived(part_number=p.part_number, size=p.size, etag=p.etag)
            for p in t.parts_received
        ],
        missing_parts=list(t.missing_parts),
        requests=[_request(r.part_number, r.request) for r in t.requests],
        assembled=t.assembled,
    )


def _url(r: PresignedRequest) -> c.PresignedUrl:
    return c.PresignedUrl(
        method=r.method, url=r.url, headers=dict(r.headers), expires_at=r.expires_at
    )


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _hit(f: dict[str, Any]) -> c.LocationCheckHit:
    return c.LocationCheckHit(
        kind=str(f.get("kind", "")),
        feature_id=uuid.UUID(str(f["feature_id"])),
        layer_version_id=_uuid(f.get("layer_version_id")),
        relation=str(f.get("relation", "")),
        distance_m=float(f.get("distance_m") or 0.0),
        edge_distance_m=f.get("edge_distance_m"),
        land_class=f.get("land_class"),
        mine_site_id=_uuid(f.get("mine_site_id")),
        attributes=dict(f.get("attributes") or {}),
    )


def _check(e: Evidence) -> c.LocationCheck:
    j = e.location_check or {}
    versions = j.get("layer_versions")
    return c.LocationCheck(
        lon=float(j.get("lon", e.lon)),
        lat=float(j.get("lat", e.lat)),
        accuracy_m=float(j.get("accuracy_m", e.position_accuracy_m)),
        outside_county=bool(j.get("outside_county", False)),
        features=[_hit(f) for f in j.get("features") or [] if isinstance(f, dict)],
        layer_versions=[
            c.LocationLayerVersion(
                kind=str(v["kind"]), version_id=uuid.UUID(str(v["version_id"])),
                version_no=int(v["version_no"]),
            )
            for v in (versions if isinstance(versions, list) else [])
        ],
    )  # fmt: skip


def _derivative(d: Derivative) -> c.DerivativeInfo:
    return c.DerivativeInfo(
        kind=c.DerivativeKindName(d.kind),
        content_type=d.content_type,
        size_bytes=d.size_bytes,
        width=d.width,
        height=d.height,
        sha256=d.sha256,
        created_at=d.created_at,
    )


def _evidence(e: Evidence) -> c.Evidence:
    u = e.upload
    return c.Evidence(
        id=e.id,
        kind=c.MediaKindName(e.kind),
        media_type=e.media_type,
        size_bytes=e.size_bytes,
        sha256=e.sha256,
        file_name=u.file_name,
        uploader_id=u.uploader_id,
        captured_at=e.captured_at,
        captured_at_source=e.captured_at_source,
        received_at=e.received_at,
        lon=e.lon,
        lat=e.lat,
        position_source=e.position_source,
        position_accuracy_m=e.position_accuracy_m,
        heading_deg=u.heading_deg,
        patrol_id=u.patrol_session_id,
        finding_id=u.finding_id,
        mine_site_id=u.mine_site_id,
        case_id=u.case_id,
        caption=u.caption,
        proves=u.proves,
        view_type=c.ViewTypeName(u.view_type) if u.view_type else None,
        flags=list(e.flags),
        trust=dict(e.trust or {}),
        file_meta=dict(e.file_meta or {}),
        location_check=_check(e),
        derivatives=[_derivative(d) for d in e.derivatives],
        trust_info=_typed(c.EvidenceTrust, e.trust or {}) or c.EvidenceTrust(),
        file_metadata=_typed(c.FileMetadata, e.file_meta or {}) or c.FileMetadata(),
    )


def _entry(x: CustodyEntry) -> c.CustodyEntry:
    return c.CustodyEntry(
        seq=x.seq,
        action=x.action,
        actor_id=x.actor_id,
        at=x.at,
        details=dict(x.details or {}),
        prev_hash=x.prev_hash,
        entry_hash=x.entry_hash,
        entry_details=_typed(c.CustodyDetails, x.details or {}) or c.CustodyDetails(),
    )


# -- controllers -----------------------------------------------------------------------------


class UploadController(Controller):
    path = "/evidence/uploads"
    tags = ["evidence"]  # noqa: RUF012

    @post(
        "/{evidence_id:uuid}",
        operation_id="CreateUpload",
        status_code=HTTP_200_OK,
        summary="Declare a file; get the presigned PUT or multipart plan",
    )
    async def create_upload(
        self,
        evidence_id: FromPath[uuid.UUID],
        data: JSONBody[c.CreateUploadRequest],
        evidence: EvidenceSvc,
        principal: Caller,
    ) -> c.UploadTicket:
        """Replays answer the same upload with fresh URLs; a new declaration for an open
        upload (after a refused complete) starts a new attempt under a new object key."""
        return _ticket(await evidence.create_upload(principal, _new_upload(evidence_id, data)))

    @get("/{evidence_id:uuid}", operation_id="GetUpload", summary="Parts received, for resume")
    async def get_upload(
        self, evidence_id: FromPath[uuid.UUID], evidence: EvidenceSvc, principal: Caller
    ) -> c.UploadTicket:
        """What storage holds already and fresh requests for every part still missing."""
        return _ticket(await evidence.get_upload(principal, evidence_id))

    @post(
        "/{evidence_id:uuid}/complete",
        operation_id="CompleteUpload",
        status_code=HTTP_200_OK,
        summary="Verify the stored bytes and accept them as evidence",
    )
    async def complete_upload(
        self,
        evidence_id: FromPath[uuid.UUID],
        evidence: EvidenceSvc,
        principal: Caller,
        request: Request[Any, Any, Any],
    ) -> c.Evidence:
        """Size and SHA-256 from the stored bytes, metadata from the file, trust flags and the
        location check; 422 ``evidence_hash_mismatch`` and friends leave the upload open."""
        accepted = await evidence.complete_upload(principal, evidence_id)
        count_evidence_intake(request, evidence.tally)
        return _evidence(accepted)

    @post(
        "/{evidence_id:uuid}/abort",
        operation_id="AbortUpload",
        status_code=HTTP_200_OK,
        summary="Give up an open upload",
    )
    async def abort_upload(
        self, evidence_id: FromPath[uuid.UUID], evidence: EvidenceSvc, principal: Caller
    ) -> c.UploadTicket:
        """Idempotent; 409 ``upload_already_accepted`` once the file is evidence."""
        return _ticket(await evidence.abort_upload(principal, evidence_id))


class EvidenceController(Controller):
    path = "/evidence"
    tags = ["evidence"]  # noqa: RUF012

    @get("", operation_id="ListEvidence", summary="Evidence the caller may see")
    async def list_evidence(
        self,
        evidence: EvidenceSvc,
        principal: Caller,
        *,
        patrol_id: FromQuery[uuid.UUID | None] = None,
        area_id: FromQuery[uuid.UUID | None] = None,
        mine_site_id: FromQuery[uuid.UUID | None] = None,
        case_id: FromQuery[uuid.UUID | None] = None,
        finding_id: FromQuery[uuid.UUID | None] = None,
        uploader_id: FromQuery[uuid.UUID | None] = None,
        kind: FromQuery[c.MediaKindName | None] = None,
        captured_from: FromQuery[datetime | None] = None,
        captured_to: FromQuery[datetime | None] = None,
        flags: FromQuery[list[str] | None] = None,
        flagged: FromQuery[bool | None] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> c.EvidencePage:
        """Newest capture first; ``caseId`` matches evidence named on upload or linked to the
        case since, ``flags`` evidence with any of them, ``flagged`` evidence with (or
        without) any trust flag."""
        filters = ev.EvidenceFilter(
            patrol_session_id=patrol_id,
            area_id=area_id,
            mine_site_id=mine_site_id,
            case_id=case_id,
            finding_id=finding_id,
            uploader_id=uploader_id,
            kind=kind.value if kind else None,
            captured_from=captured_from,
            captured_to=captured_to,
            any_flags=tuple(flags or ()),
            flagged=flagged,
        )
        page = await evidence.list_evidence(principal, filters, limit=limit, cursor=cursor)
        return c.EvidencePage(
            items=[_evidence(e) for e in page.items], next_cursor=page.next_cursor
        )

    @get("/{evidence_id:uuid}", operation_id="GetEvidence", summary="One evidence")
    async def get_evidence(
        self, evidence_id: FromPath[uuid.UUID], evidence: EvidenceSvc, principal: Caller
    ) -> c.Evidence:
        """Metadata from the file, trust flags, the location check and the derivatives made."""
        return _evidence(await evidence.get_evidence(principal, evidence_id))

    @post(
        "/{evidence_id:uuid}/original-url",
        operation_id="GetOriginalUrl",
        status_code=HTTP_200_OK,
        summary="A short-lived URL for the original (recorded in custody)",
    )
    async def get_original_url(
        self,
        evidence_id: FromPath[uuid.UUID],
        data: JSONBody[c.OriginalUrlRequest],
        evidence: EvidenceSvc,
        principal: Caller,
    ) -> c.PresignedUrl:
        """Every view or download of an original is a custody entry."""
        request = await evidence.presign_original_download(
            principal, evidence_id, inline=data.inline
        )
        return _url(request)

    @get(
        "/{evidence_id:uuid}/derivatives/{kind:str}",
        operation_id="GetDerivativeUrl",
        summary="A short-lived URL for a thumbnail, share copy, poster or captioned copy",
    )
    async def get_derivative_url(
        self,
        evidence_id: FromPath[uuid.UUID],
        kind: FromPath[c.DerivativeKindName],
        evidence: EvidenceSvc,
        principal: Caller,
    ) -> c.PresignedUrl:
        """404 ``derivative_not_found`` until the worker has made it."""
        return _url(await evidence.presign_derivative(principal, evidence_id, kind.value))

    @get("/{evidence_id:uuid}/custody", operation_id="GetCustody", summary="Custody history")
    async def get_custody(
        self, evidence_id: FromPath[uuid.UUID], evidence: EvidenceSvc, principal: Caller
    ) -> c.CustodyHistory:
        """Entries of the county's hash-chained custody log about this evidence, oldest first."""
        entries = await evidence.custody_history(principal, evidence_id)
        return c.CustodyHistory(evidence_id=evidence_id, entries=[_entry(x) for x in entries])

    @post(
        "/{evidence_id:uuid}/flags",
        operation_id="FlagEvidence",
        status_code=HTTP_200_OK,
        summary="Flag evidence after intake (captains, admins, security squad)",
    )
    async def flag_evidence(
        self,
        evidence_id: FromPath[uuid.UUID],
        data: JSONBody[c.FlagRequest],
        evidence: EvidenceSvc,
        principal: Caller,
    ) -> c.Evidence:
        """Idempotent; each new flag is a custody entry."""
        row = await evidence.flag_evidence(principal, evidence_id, data.flag, note=data.note)
        return _evidence(row)
