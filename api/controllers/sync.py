"""Offline sync: pull, push, reference layers as GeoJSON and vector tiles.

Pull and push read ``application/json`` or ``application/msgpack`` bodies (optionally
``Content-Encoding: gzip``) and answer in the format the ``Accept`` header asks for; answers
are gzip-compressed by the app when the client accepts it.
"""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_304_NOT_MODIFIED

from api.controllers import field_inputs as inputs
from api.controllers.satellite_tasks import result_input
from api.decoding import GuardedRequest, check_value
from api.deps import Caller, Layers, Pull, Push
from api.metrics import count_sync_receipts
from api.problems import content_language, request_lang
from infra.errors import InvalidInputError
from infra.messages import Lang, render, validation_detail
from mobile_contract.naming import camel
from mobile_contract.v1 import sync as c
from patrol.findings import FindingEdit
from patrol.tracks import PointIn, TrackPointsInput
from sync import ops
from sync.errors import BatchTooLargeError
from sync.pull import Page
from sync.push import PushResult, Receipt
from sync.records import JsonRecords

__all__ = ["LayerDataController", "SyncController", "SyncRequest"]

MSGPACK = "application/msgpack"
_MSGPACK_TYPES = {MSGPACK, "application/x-msgpack", "application/vnd.msgpack"}
_MAX_INFLATED = 64 * 1024 * 1024
_KNOWN_OPS: set[str] = {
    str(t.__struct_config__.tag) for t in (
        c.StartPatrolOp, c.EndPatrolOp, c.TrackPointsOp, c.SignInOp, c.RecordFindingOp,
        c.UpdateFindingOp, c.DutyCheckOp, c.UpdateEvidenceOp, c.RecordTargetVerificationOp,
        c.RecordSatelliteResultOp,
    )
}  # fmt: skip
_SCREEN_KEY = "sync_screened_ops"


def _inflate(body: bytes) -> bytes:
    try:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        out = inflater.decompress(body, _MAX_INFLATED)
    except zlib.error as exc:
        raise ValidationException(detail=f"could not decode the gzip body: {exc}") from exc
    if inflater.unconsumed_tail:
        raise ValidationException(detail="the decompressed body is too large")
    return out


def _op_id(item: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(item.get("opId")))
    except (AttributeError, ValueError, TypeError):
        return None


def _screen(value: Any, state: dict[str, Any]) -> Any:
    """Read each push operation on its own: unreadable ones become rejections, not a 400.

    The operations read here are kept in the request state and taken from there by the
    handler; the body Litestar validates is left without them (read once, not twice).
    """
    if not isinstance(value, dict) or not isinstance(value.get("ops"), list):
        return value
    items: list[Any] = value["ops"]
    if len(items) > c.MAX_OPS:
        raise BatchTooLargeError(
            f"at most {c.MAX_OPS} operations per push; split the batch",
            limit=c.MAX_OPS,
            field="ops",
        )
    kept: list[c.PushOperation] = []
    positions: list[int] = []
    rejected: list[tuple[int, ops.Undecodable]] = []
    for index, item in enumerate(items):
        kind = item.get("type") if isinstance(item, dict) else None
        if not isinstance(kind, str) or kind not in _KNOWN_OPS:  # {"type": {}} is unhashable
            rejected.append((index, ops.Undecodable(
                _op_id(item), "unknown_op_type",
                f"unknown operation type {str(kind)[:40]!r}; this server knows "
                f"{', '.join(sorted(_KNOWN_OPS))}",
            )))  # fmt: skip
            continue
        try:
            check_value(item, path=("ops", index), depth=2)
            kept.append(msgspec.convert(item, c.PushOperation, strict=True))
        except InvalidInputError as exc:  # the decode guard: NUL, numbers, nesting
            rejected.append((index, ops.Undecodable(
                _op_id(item), exc.code, exc.detail, {"field": exc.extra.get("field")}
            )))  # fmt: skip
            continue
        except msgspec.ValidationError as exc:
            rejected.append((index, ops.Undecodable(_op_id(item), "invalid_op", str(exc))))
            continue
        positions.append(index)
    state[_SCREEN_KEY] = (len(items), positions, rejected, kept)
    return {**value, "ops": []}


class SyncRequest(GuardedRequest):
    """Reads JSON or MessagePack bodies, gzip-compressed or not; screens push operations."""

    def is_msgpack(self) -> bool:
        return self.content_type[0] in _MSGPACK_TYPES

    async def body_bytes(self) -> bytes:
        body = await self.body()
        if self.headers.get("content-encoding", "").strip().lower() == "gzip":
            body = _inflate(body)
        return body

    def prepare(self, value: Any) -> Any:
        if self.route_handler.opt.get("screen_ops"):
            value = _screen(value, self.scope.setdefault("state", {}))
        check_value(value)
        return value


@dataclass
class _DualOperation(Operation):
    """Documents the MessagePack body and answer beside the JSON ones (a dataclass of its
    own: the ``__init__`` inherited from ``Operation`` would not call ``__post_init__``)."""

    def __post_init__(self) -> None:
        body = self.request_body
        if isinstance(body, RequestBody) and "application/json" in body.content:
            body.content[MSGPACK] = body.content["application/json"]
        for status, response in (self.responses or {}).items():
            content = getattr(response, "content", None)
            if not str(status).startswith("2"):
                continue  # problems are always JSON
            if content and "application/json" in content:
                content[MSGPACK] = OpenAPIMediaType(schema=content["application/json"].schema)


def _wants_msgpack(request: Request[Any, Any, Any]) -> bool:
    return any(t in request.headers.get("accept", "") for t in _MSGPACK_TYPES)


def _answer(
    request: Request[Any, Any, Any], body: msgspec.Struct, headers: dict[str, str] | None = None
) -> Response[Any]:
    if _wants_msgpack(request):
        return Response(msgspec.msgpack.encode(body), media_type=MSGPACK, headers=headers)
    return Response(body, headers=headers)


def _changes(page: Page, *, msgpack: bool) -> c.PullChanges:
    def pack(name: str, kind: Any) -> Any:
        records = page.upserts.get(name, [])
        upserts: Any
        if isinstance(records, JsonRecords):  # already JSON in the contract's shape
            upserts = (
                msgspec.json.decode(records.data, type=list[kind])
                if msgpack
                else msgspec.Raw(records.data)
            )
        else:
            upserts = msgspec.convert(records, list[kind], from_attributes=True)
        return {"upserts": upserts, "deletes": page.deletes.get(name, [])}

    return c.PullChanges(
        areas=c.AreaChanges(**pack("areas", c.AreaRecord)),
        targets=c.TargetChanges(**pack("targets", c.TargetRecord)),
        plans=c.PlanChanges(**pack("plans", c.PlanRecord)),
        mine_sites=c.MineSiteChanges(**pack("mine_sites", c.MineSiteRecord)),
        patrols=c.PatrolChanges(**pack("patrols", c.PatrolRecord)),
        findings=c.FindingChanges(**pack("findings", c.FindingRecord)),
        features=c.FeatureChanges(**pack("features", c.FeatureRecord)),
        cases=c.CaseChanges(**pack("cases", c.CaseRecord)),
        satellite_tasks=c.SatelliteTaskChanges(**pack("satellite_tasks", c.SatelliteTaskRecord)),
    )


def _reason(receipt: Receipt, lang: Lang) -> str | None:
    if receipt.code is None or receipt.reason is None:
        return receipt.reason
    if receipt.code == "invalid_op":  # msgspec's own message, with the field's path
        return validation_detail(receipt.code, receipt.reason, lang)
    text = render(receipt.code, lang, receipt.params, receipt.reason)
    where = receipt.params.get("field")
    if lang == "zh" and isinstance(where, str) and where not in text:
        text = f"{text}（{where}）"  # the phone shows which field; English says it already
    return text


def _receipts(result: PushResult, lang: Lang) -> c.PushResponse:
    """The receipts in the contract's shape, each reason in ``lang``."""
    receipts = []
    for r in result.receipts:
        conflict = None
        if r.conflict is not None:
            conflict = c.Conflict(
                server_version=r.conflict.server_version,
                fields=[camel(f) for f in r.conflict.fields],
                server_values={camel(k): v for k, v in r.conflict.server_values.items()},
            )
        sign_in = None
        if r.sign_in is not None:
            sign_in = c.SignInOutcome(
                targets_reached=r.sign_in.targets_reached,
                nearest_target_id=r.sign_in.nearest_target_id,
                nearest_target_m=r.sign_in.nearest_target_m,
                far_from_targets=r.sign_in.far_from_targets,
            )
        receipts.append(c.Receipt(
            index=r.index, op_id=r.op_id, status=c.ReceiptStatus(r.status),
            record_id=r.record_id, version=r.version, code=r.code,
            reason=_reason(r, lang),
            retryable=r.retryable, conflict=conflict,
            rejected_items=[c.RejectedItem(id=i.id, code=i.code,
                                           reason=render(i.code, lang, None, i.reason))
                            for i in r.rejected_items],
            sign_in=sign_in,
        ))  # fmt: skip
    return c.PushResponse(
        receipts=receipts, server_time=result.server_time, clock_skew_s=result.clock_skew_s
    )


def _fields(f: c.FindingFields | None) -> ops.FindingChanges | None:
    if f is None:
        return None
    return ops.FindingChanges(
        project_name=f.project_name,
        builder=f.builder,
        construction_started_on=f.construction_started_on,
        construction_status=f.construction_status,
        occupied_area_m2=f.occupied_area_m2,
        note=f.note,
    )


def _op(o: c.PushOperation) -> ops.Operation:  # noqa: PLR0911 - one branch per type
    """The domain operation of a wire operation: its op id and the domain input, built as
    the REST handlers build it (``api.controllers.patrol``)."""
    if isinstance(o, c.StartPatrolOp):
        return ops.StartPatrol(o.op_id, inputs.start_input(o.patrol_id, o))
    if isinstance(o, c.EndPatrolOp):
        return ops.EndPatrol(o.op_id, inputs.end_input(o.patrol_id, o))
    if isinstance(o, c.TrackPointsOp):
        points = tuple(
            PointIn(p.id, p.t, p.lon, p.lat, p.accuracy_m, p.speed_mps, p.heading_deg)
            for p in o.points
        )  # dataclasses, not Structs: their fields make the operation's hash
        return ops.TrackPoints(o.op_id, TrackPointsInput(patrol_id=o.patrol_id, points=points))
    if isinstance(o, c.SignInOp):
        return ops.SignIn(o.op_id, inputs.sign_in_input(o.patrol_id, o.sign_in_id, o))
    if isinstance(o, c.RecordFindingOp):
        return ops.RecordFinding(o.op_id, inputs.finding_input(o.patrol_id, o.finding_id, o))
    if isinstance(o, c.UpdateFindingOp):
        edit = FindingEdit(
            finding_id=o.finding_id,
            base_version=o.base_version,
            changes=_fields(o.changes) or ops.FindingChanges(),
            base=_fields(o.base),
        )
        return ops.UpdateFinding(o.op_id, edit)
    if isinstance(o, c.DutyCheckOp):
        return ops.RecordDutyCheck(o.op_id, inputs.duty_check_input(o.check_id, o))
    if isinstance(o, c.RecordTargetVerificationOp):
        return ops.RecordTargetVerification(
            o.op_id, inputs.verification_input(o.target_id, o.verification_id, o)
        )
    if isinstance(o, c.RecordSatelliteResultOp):
        return ops.RecordSatelliteResult(o.op_id, result_input(o.task_id, o.result_id, o))
    return ops.UpdateEvidence(
        o.op_id,
        o.evidence_id,
        ops.EvidenceNotes(o.caption, o.proves, o.view_type),
        o.base_version,
        None
        if o.base is None
        else ops.EvidenceNotes(o.base.caption, o.base.proves, o.base.view_type),
    )


def _operations(
    request: Request[Any, Any, Any], data: c.PushRequest
) -> list[ops.Operation | ops.Undecodable]:
    """The batch in its original order: read operations and the ones that could not be."""
    total, positions, rejected, read = request.scope.get("state", {}).get(
        _SCREEN_KEY, (len(data.ops), list(range(len(data.ops))), [], data.ops)
    )
    out: list[Any] = [None] * total
    for index, op in zip(positions, read, strict=True):
        out[index] = _op(op)
    for index, undecodable in rejected:
        out[index] = undecodable
    return out


class SyncController(Controller):
    path = "/sync"
    tags = ["sync"]  # noqa: RUF012
    request_class = SyncRequest

    @post(
        "/pull",
        operation_id="SyncPull",
        status_code=HTTP_200_OK,
        operation_class=_DualOperation,
        summary="Changes since a cursor, a page at a time",
    )
    async def sync_pull(
        self,
        data: JSONBody[c.PullRequest],
        pull: Pull,
        principal: Caller,
        request: Request[Any, Any, Any],
    ) -> Response[c.PullResponse]:
        """Send no cursor to start over; send the last cursor to acknowledge its page."""
        page = await pull.pull(principal, cursor=data.cursor, limit=data.limit)
        return _answer(request, c.PullResponse(
            cursor=page.cursor, has_more=page.has_more, reset=page.reset,
            server_time=page.server_time,
            changes=_changes(page, msgpack=_wants_msgpack(request)),
        ))  # fmt: skip

    @post(
        "/push",
        operation_id="SyncPush",
        status_code=HTTP_200_OK,
        operation_class=_DualOperation,
        opt={"screen_ops": True},
        summary="Apply a batch of operations; one receipt each",
    )
    async def sync_push(
        self,
        data: JSONBody[c.PushRequest],
        push: Push,
        principal: Caller,
        request: Request[Any, Any, Any],
    ) -> Response[c.PushResponse]:
        """Up to 500 operations, applied in order; a replayed batch gets the same receipts."""
        result = await push.push(
            principal, _operations(request, data), device_time=data.device_time
        )
        count_sync_receipts(request, result.receipts)
        lang = request_lang(request)
        return _answer(request, _receipts(result, lang), content_language(lang))

    @get(
        "/layers/{layer:str}",
        operation_id="GetLayerGeoJson",
        media_type="application/geo+json",
        summary="A reference layer in the caller's areas as GeoJSON, a page at a time (ETag)",
        responses={
            HTTP_200_OK: ResponseSpec(
                data_container=str,
                media_type="application/geo+json",
                description="A FeatureCollection page, ending with 'next'",
            )
        },
    )
    async def get_layer_geojson(
        self,
        layer: FromPath[str],
        layers: Layers,
        principal: Caller,
        if_none_match: Annotated[str | None, HeaderParameter(name="If-None-Match")] = None,
        after: Annotated[
            str | None,
            QueryParameter(description="the 'next' member of the previous page", max_length=36),
        ] = None,
    ) -> Stream:
        """Send the last ETag in If-None-Match: an unchanged page answers 304.

        The features are the layer's current state in your areas: the latest import of
        parcels, planning zones or change polygons (a new import replaces the layer), and
        every site of the mine-site register as it is now (a change to one site changes
        that site only). ``layerVersion`` is the version read; a check naming it saw the
        same features. Any change to the layer changes the ETag.

        A page is at most ``PATROL_LAYER_GEOJSON_MAX_BYTES`` (16 MiB by default) before
        compression, streamed as it is read; a single larger feature makes a page of its
        own. The FeatureCollection ends with ``"next"``: send it as ``after`` for the
        following page; it is ``null`` on the last page.
        """
        doc = await layers.layer_geojson(principal, layer, if_none_match=if_none_match, after=after)
        headers = {"ETag": doc.etag, "Cache-Control": "private, no-cache"}
        if doc.chunks is None:
            return Stream((), status_code=HTTP_304_NOT_MODIFIED, headers=headers)
        return Stream(doc.chunks, media_type="application/geo+json", headers=headers)


class LayerDataController(Controller):
    path = "/tiles"
    tags = ["sync"]  # noqa: RUF012

    @get(
        "/{layer:str}/{z:str}/{x:str}/{y:str}",
        operation_id="GetTile",
        media_type="application/vnd.mapbox-vector-tile",
        summary="A Mapbox vector tile of a reference layer in the caller's areas",
    )
    async def get_tile(
        self,
        *,
        layer: FromPath[str],
        z: FromPath[str],
        x: FromPath[str],
        y: FromPath[str],
        layers: Layers,
        principal: Caller,
    ) -> Response[bytes]:
        """``/tiles/{layer}/{z}/{x}/{y}.mvt`` (web-mercator XYZ); empty outside your areas.

        The same features as ``GetLayerGeoJson``: the layer's current state in your areas.

        Geometry is simplified to a pixel of the zoom. A tile larger than
        ``PATROL_TILE_MAX_BYTES`` (2 MiB by default) even so is refused with 422
        ``tile_too_large``: its area has too much at this zoom; ask for a higher one.
        """
        tile = await layers.tile(principal, layer, z, x, y)
        return Response(
            tile,
            media_type="application/vnd.mapbox-vector-tile",
            headers={"Cache-Control": "private, max-age=300"},
        )
