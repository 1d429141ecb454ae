"""Every operation of the app as a request a test can make: a minimal valid body and query.

The isolation walk (``test_isolation``) and the role matrix (``test_role_matrix``) call every
operation the app serves. Both need a request that passes validation, so that the answer is
the one of the county check or the role rule, never 400 or 422 for a missing member. The
requests are written here once, as functions of a :class:`Ctx` (the ids of one county's
records, named like the path parameters, and a counter for codes that must be unique).

A write operation of the app (POST, PUT, PATCH) without an entry in :data:`BODIES` fails both
tests: add the smallest body the operation accepts.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from infra.ids import uuid7
from tests import clock

__all__ = [
    "BODIES",
    "FRESH",
    "QUERIES",
    "SCAN_PNG",
    "WRITES",
    "Ctx",
    "Multipart",
    "Operation",
    "body",
    "missing_bodies",
    "operations",
    "query",
    "request",
    "satellite_batch_file",
    "square",
]

WRITES = frozenset({"POST", "PUT", "PATCH"})


def square(lon: float, lat: float, half: float = 0.005) -> dict[str, Any]:
    """A GeoJSON square around ``lon, lat``."""
    ring = [
        [lon - half, lat - half],
        [lon + half, lat - half],
        [lon + half, lat + half],
        [lon - half, lat + half],
        [lon - half, lat - half],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


@dataclass
class Ctx:
    """One county's records by path parameter name, and where the county lies."""

    ids: dict[str, str]
    lon: float
    lat: float
    _seq: Iterator[int] = field(default_factory=itertools.count)

    def __getitem__(self, name: str) -> str:
        return self.ids[name]

    def uniq(self, prefix: str) -> str:
        """A code no earlier call of this context used."""
        return f"{prefix}{next(self._seq)}{uuid7().hex[-6:]}"

    @property
    def now(self) -> str:
        return clock.now().isoformat()

    def at(self, **extra: Any) -> dict[str, Any]:
        """A position inside the county, with ``extra`` members."""
        return {"lon": self.lon, "lat": self.lat, **extra}


@dataclass(frozen=True, slots=True)
class Multipart:
    """A ``multipart/form-data`` body."""

    data: dict[str, str]
    files: dict[str, tuple[str, bytes, str]]


#: the smallest scan a document takes (AttachDocumentScan): a PNG signature and a header
SCAN_PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(17)

Body = Callable[[Ctx], Any] | dict[str, Any]
"""A body, or a function of the records it names."""

_MATERIALS = [
    {"kind": "referral_letter", "title": "移送函"},
    {"kind": "investigation_report", "title": "调查报告"},
    {"kind": "items_list", "title": "涉案物品清单"},
]


def _layer_file(c: Ctx) -> Multipart:
    """One parcel of cultivated land, checked only (``dry_run``): no version is made."""
    feature = {"type": "Feature", "properties": {"DLBM": "0101"}, "geometry": square(c.lon, c.lat)}
    geojson = json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()
    return Multipart(
        data={"kind": "parcels", "dry_run": "true"},
        files={"file": ("parcels.geojson", geojson, "application/octet-stream")},
    )


def satellite_batch_file(c: Ctx, *, dry_run: bool = True) -> Multipart:
    """A satellite batch of one change polygon at the county's middle (``dry_run``: checked
    and reported only)."""
    props = {"JCBH": c.uniq("JC"), "PCNF": 2026, "JD": 4}
    feature = {"type": "Feature", "properties": props, "geometry": square(c.lon, c.lat, 0.0005)}
    geojson = json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()
    form = {"name": c.uniq("卫片"), "kind": "quarterly", "year": "2026", "quarter": "4"}
    return Multipart(
        data={**form, "dryRun": "true" if dry_run else "false"},
        files={"file": ("batch.geojson", geojson, "application/octet-stream")},
    )


def _week() -> dict[str, str]:
    today = clock.today()
    return {"start": (today - timedelta(days=7)).isoformat(), "end": today.isoformat()}


# operation id -> the smallest body it accepts; ``None``: the operation reads no body
BODIES: dict[str, Body | None] = {
    # auth and admin
    "CreateToken": lambda c: {"username": c["username"], "password": c["password"]},
    "RefreshToken": lambda c: {"refreshToken": c["refresh_token"]},
    "RegisterDevice": {"name": "手机"},
    "CreateUser": lambda c: {
        "username": c.uniq("u"),
        "displayName": "新人",
        "role": "inspector",
        "password": "long-enough-pass",
    },
    "UpdateUser": {"displayName": "改名"},
    "ResetPassword": {"password": "another-long-pass"},
    "CreateCounty": lambda c: {
        "code": "439901",
        "name": "新县",
        "boundary": square(c.lon, c.lat, 0.05),
    },
    "CreateTownship": lambda c: {
        "code": c.uniq("T"),
        "name": "镇",
        "geometry": square(c.lon, c.lat),
    },
    "UpdateTownship": {"name": "改镇"},
    "CreateVillage": lambda c: {
        "townshipId": c["township_id"],
        "code": c.uniq("V"),
        "name": "村",
        "geometry": square(c.lon, c.lat),
    },
    "UpdateVillage": {"name": "改村"},
    # geofence
    "CheckLocation": lambda c: c.at(accuracyM=5.0),
    "CheckLocations": lambda c: {"points": [c.at(accuracyM=5.0)]},
    "OverlayArea": lambda c: {"polygon": square(c.lon, c.lat, 0.001)},
    "ImportLayer": _layer_file,
    # satellite campaigns
    "CreateSatelliteBatch": satellite_batch_file,
    "AssignSatelliteTasks": lambda c: {"taskIds": [c["task_id"]], "inspectorId": c["user_id"]},
    "CreateMineSite": lambda c: {
        "code": c.uniq("KS"),
        "name": "矿",
        "geometry": square(c.lon, c.lat, 0.001),
    },
    "UpdateMineSite": lambda c: {
        "code": c.uniq("KS"),
        "name": "矿",
        "geometry": square(c.lon, c.lat, 0.001),
    },
    "SetRosterMember": lambda c: {"userId": c["user_id"]},
    "SetMineSiteStatus": {"status": "signs_of_reopening"},
    # evidence
    "CreateUpload": lambda c: {
        "sha256": "ab" * 32,
        "sizeBytes": 1024,
        "contentType": "image/jpeg",
        "contentMd5": "AAAAAAAAAAAAAAAAAAAAAA==",
        "fix": c.at(accuracyM=5.0),
        "patrolId": c["patrol_id"],
    },
    "CompleteUpload": None,
    "AbortUpload": None,
    "FlagEvidence": {"flag": "key_evidence"},
    "GetOriginalUrl": {},
    # sync
    "SyncPull": {"limit": 1},
    "SyncPush": lambda c: {
        "ops": [
            {
                "type": "signIn",
                "opId": str(uuid7()),
                "patrolId": c["patrol_id"],
                "signInId": str(uuid7()),
                "at": c.now,
                **c.at(accuracyM=5.0),
            }
        ]
    },
    # patrol
    "CreateArea": lambda c: {
        "code": c.uniq("A"),
        "name": "片区",
        "grade": 1,
        "geometry": square(c.lon, c.lat),
        "leaderId": c["user_id"],
    },
    "UpdateArea": {"name": "片区"},
    "AddTarget": lambda c: {"kind": "custom", "name": "点", **c.at()},
    "SetFrequencyRule": {"name": "规则"},
    "UpsertPlan": {"quota": 4},
    "StartPatrol": lambda c: {"areaId": c["area_id"], "startedAt": c.now},
    "EndPatrol": lambda c: {"endedAt": c.now},
    "AppendTrackPoints": lambda c: {
        "points": [{"id": str(uuid7()), "t": c.now, **c.at(accuracyM=5.0)}]
    },
    "SignIn": lambda c: {"at": c.now, **c.at(accuracyM=5.0)},
    "RecordFinding": lambda c: {
        "foundAt": c.now,
        "projectName": "项目",
        "constructionStatus": "levelled",
        **c.at(),
    },
    "RecordDutyCheck": lambda c: {
        "siteId": c["site_id"],
        "checkedAt": c.now,
        "status": "still_closed",
    },
    "AcknowledgeAlert": None,
    "RecordTargetVerification": lambda c: {
        "outcome": "found",
        "verifiedAt": c.now,
        "patrolId": c["patrol_id"],
    },
    # cases and referrals
    "OpenCase": lambda c: {"cause": "占地", "violationKind": "land_occupation", **c.at()},
    "UpdateCase": {"cause": "占地建房"},
    "ChangeCaseStatus": {"status": "filed"},
    "SetCaseTeam": lambda c: {"members": [{"userId": c["user_id"], "roleInTeam": "lead"}]},
    "LinkCaseEvidence": lambda c: {"evidenceIds": [c["evidence_id"]]},
    "FlagForReferral": lambda c: {"caseId": c["case_id"], "reason": "疑似犯罪"},
    "CreateReferral": lambda c: {"teamIds": c["team_ids"].split(","), "report": "调查报告"},
    "ExportReferralPackage": None,
    # the administrative penalty procedure
    "RecordCaseStep": {"kind": "investigation", "summary": "现场勘验，制作勘验笔录"},
    "PutCasePenalty": {},
    # the case file's documents
    "GenerateCaseDocument": {"kind": "referral_letter"},
    "AttachDocumentScan": lambda _: Multipart(
        data={}, files={"file": ("scan.png", SCAN_PNG, "application/octet-stream")}
    ),
    "OpenTipOff": lambda c: {
        "channel": "phone_12336",
        "receivedAt": c.now,
        "facts": "有人占用耕地建房",
        "clueType": "land_illegal_occupation",
        **c.at(),
    },
    "DecideTipOff": {"decision": "accept"},
    "AssignTipOffVerification": {},
    "HandleTipOff": {"handling": "stop_order"},
    "OpenCaseFromTipOff": {"violationKind": "land_occupation"},
    "RecordTipOffFeedback": {"channel": "phone", "content": "已电话答复"},
    "PutHoliday": {"day": "2031-01-01", "kind": "holiday"},
    "AddReferralRule": lambda c: {
        "code": c.uniq("rule."),
        "violationKind": "land_occupation",
        "crime": "非法占用农用地罪",
        "article": "342",
        "metric": "total_mu",
        "threshold": "5",
        "unit": "mu",
        "citation": "刑法第三百四十二条",
        "effectiveFrom": "2999-01-01",  # not in force: screening elsewhere unchanged
    },
    "RecordReferralDecision": {"approved": True},
    "RecordReferralTransfer": {"policeUnit": "县公安局", "materials": _MATERIALS},
    "RecordPoliceReceipt": {},
    "RecordPoliceDecision": {"filed": True},
    "RecordHandover": {"items": [{"kind": "item", "title": "挖掘机"}]},
    "RequestReconsideration": {"reason": "不予立案不当"},
    # satellite campaign tasks
    "RecordSatelliteResult": lambda c: {
        "outcome": "not_new",
        "verifiedAt": c.now,
        "notNewKind": "no_change",
    },
    "ReviewSatelliteTask": {"decision": "pass"},
    "SubmitSatelliteTasks": lambda c: {"taskIds": [c["task_id"]]},
    "ReopenSatelliteTask": {"reason": "省厅要求补充材料"},
    "OpenSatelliteCase": {},
    # petitions
    "RegisterPetition": lambda c: {
        "form": "letter",
        "category": "suggestion",
        "receivedAt": c.now,
        "subject": "建议",
        "content": "建议加强夜间巡查",
        "petitioner": {"name": "张三"},
    },
    "DecidePetition": {"accept": True},
    "AssignPetition": {"office": "执法大队一中队", "instruction": "请依法核查"},
    "ExtendPetition": {"days": 30, "reason": "情况复杂"},
    "ReplyPetition": {"content": "答复意见", "delivery": "mail"},
    "RequestPetitionReview": {"level": "review"},
    "AnswerPetitionReview": {"level": "review", "answer": "维持原处理意见"},
    # reports
    "CreateReport": lambda _: {"template": "monthly", "date": clock.today().isoformat()},
}

# operation id -> its query parameters (those naming records, and the required ones)
QUERIES: dict[str, Callable[[Ctx], dict[str, str]]] = {
    "ListVillages": lambda c: {"township_id": c["township_id"]},
    "ListEvidence": lambda c: {"patrol_id": c["patrol_id"]},
    "ListPatrols": lambda c: {"area_id": c["area_id"]},
    "ListDutyChecks": lambda c: {"site_id": c["site_id"]},
    "GetDutyStatus": lambda c: {"site_id": c["site_id"]},
    "ListAlerts": lambda c: {"site_id": c["site_id"]},
    "ListReferrals": lambda c: {"case_id": c["case_id"]},
    "ExportReferralPackage": lambda c: {"referral_id": c["referral_id"]},
    "ExportTracksGeoJson": lambda c: {**_week(), "area_id": c["area_id"]},
    "GetTipOffFigures": lambda _: {"period": "month", "date": clock.today().isoformat()},
    "ExportSatelliteBatch": lambda _: {"format": "xlsx"},
    "GetStatistics": lambda _: {"period": "month", "date": clock.today().isoformat()},
    "DownloadReport": lambda _: {"format": "csv"},
}

# operation id -> path parameters naming the record the operation creates (a new id a call)
FRESH: dict[str, tuple[str, ...]] = {
    "StartPatrol": ("patrol_id",),
    "SignIn": ("sign_in_id",),
    "RecordFinding": ("finding_id",),
    "RecordDutyCheck": ("check_id",),
    "CreateUpload": ("evidence_id",),
    "RecordTargetVerification": ("verification_id",),
    "RecordSatelliteResult": ("result_id",),
}


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    operation_id: str
    params: tuple[str, ...]

    def url(self, ctx: Ctx, *, fresh: bool = True) -> str:
        """The path with ``ctx``'s records; with ``fresh``, new ids for the records the
        operation creates (:data:`FRESH`)."""
        url = self.path
        for name in self.params:
            new = fresh and name in FRESH.get(self.operation_id, ())
            value = str(uuid7()) if new else ctx[name]
            url = re.sub(r"\{" + name + r"(:\w+)?\}", value, url)
        return url


def operations(app: Litestar) -> list[Operation]:
    """Every operation the app serves (the OpenAPI schema's own pages left out)."""
    out: list[Operation] = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        params = tuple(re.findall(r"\{(\w+)(?::\w+)?\}", route.path))
        for handler in route.route_handlers:
            op_id = handler.operation_id
            if not isinstance(op_id, str):
                continue  # the schema plugin's pages
            for method in sorted(handler.http_methods - {"HEAD", "OPTIONS"}):
                out.append(Operation(method, route.path, op_id, params))
    return sorted(out, key=lambda o: o.operation_id)


def body(operation_id: str, ctx: Ctx) -> Any:
    """The smallest valid body of ``operation_id`` for ``ctx``'s records (``None``: the
    operation reads none)."""
    make = BODIES.get(operation_id)
    return make(ctx) if callable(make) else make


def query(operation_id: str, ctx: Ctx) -> dict[str, str] | None:
    """The query parameters of ``operation_id`` for ``ctx``'s records."""
    make = QUERIES.get(operation_id)
    return make(ctx) if make is not None else None


def missing_bodies(ops: list[Operation]) -> list[str]:
    """Write operations with no body in :data:`BODIES`."""
    return sorted(
        o.operation_id for o in ops if o.method in WRITES and o.operation_id not in BODIES
    )


async def request(
    client: AsyncTestClient[Litestar],
    op: Operation,
    ctx: Ctx,
    headers: dict[str, str],
    *,
    fresh: bool = True,
) -> Any:
    """Call ``op`` on ``ctx``'s records with its minimal body and query (``fresh``: see
    :meth:`Operation.url`)."""
    assert op.method not in WRITES or op.operation_id in BODIES, (
        f"{op.operation_id}: add its smallest valid body to tests/api/_calls.py BODIES"
    )
    data = body(op.operation_id, ctx)
    params = query(op.operation_id, ctx)
    url = op.url(ctx, fresh=fresh)
    if isinstance(data, Multipart):
        return await client.request(
            op.method, url, headers=headers, params=params, data=data.data, files=data.files
        )
    return await client.request(op.method, url, headers=headers, params=params, json=data)
