"""Who may do what: every operation of the app, called by every role on its own county.

One county holds one record of every kind, in the relations the roles have in the field:
the inspector leads the area and runs its patrol, with the joint-team member as companion;
the captain opened the case (the inspector its lead, the joint-team member on its team),
flagged it, and the squad referred it with the captain; the evidence is the inspector's, of
that case; the inspector holds a five-to-one seat at the mine site. Each role then calls each
operation with the smallest valid body (``tests/api/_calls.py``) and gets the answer of
:data:`MATRIX` — the status, and the problem ``code`` of a refusal.

:data:`MATRIX` is the one statement of the role rules the tests hold: the isolation walk
(``test_isolation``) reads from it which roles may be told ``role_not_allowed``, and each
``role_not_allowed`` answer's ``allowedRoles`` (the rule as the code states it) must name
exactly the roles of the row that are not refused. Every code must also be one the OpenAPI
document lists for the operation (``api.openapi_errors``).

Roles held to an allowlist (``api.guards``: the procuratorate) have no column: their answers
are a mapping of their own (:data:`ALLOWLISTED`), ``role_not_allowed`` for every operation
it does not name, so a new row needs nothing for them; their refusals come from the guard,
which names no ``allowedRoles``.

A new operation fails :func:`test_every_operation_has_a_row` until it has a row. Operations
that change a record for good (end a patrol, revoke a device, move a referral on) get a
fresh record for each call (:data:`_FRESH`).
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import create_app
from api.openapi_errors import OPERATION_ERRORS, SHARED_ERRORS
from evidence import ClaimedFix, EvidenceService, GeofenceLocationChecker, NewUpload
from evidence.cases.reports import generate_report
from evidence.cases.satellite_models import SatelliteTask
from evidence.cases.tip_offs import on_tip_off_verified
from geofence.models import ImportJob
from infra.ids import uuid7
from infra.objectstore import S3ObjectStore
from infra.scope import Role
from infra.settings import Settings
from patrol import PatrolAlert, raise_alert
from tests import clock
from tests.api._calls import Ctx, Operation, body, operations, request, satellite_batch_file
from tests.api.test_evidence_api import _md5, _photo, seed_evidence
from tests.conftest import TEST_PASSWORD, CountyFixture, create_county
from tests.jobs import run_jobs
from tests.satellite_tasks.seed import seed_task

Client = AsyncTestClient[Litestar]
API = "/api/v1"
LON, LAT = 112.1, 28.5  # the middle of create_county's county

# the columns of MATRIX
COLUMNS = (
    Role.INSPECTOR,
    Role.JOINT_TEAM,
    Role.CAPTAIN,
    Role.SECURITY_SQUAD,
    Role.ADMIN,
    Role.CLUE_DESK,
)
# every role the walk calls with: MATRIX's columns, then the roles held to an allowlist
# (api/guards.py), whose answers are their own mappings below (refused unless named)
ROLES = (*COLUMNS, Role.PROCURATORATE)

# the answers: a status, and the problem code of a refusal
OK, NEW, QUEUED, GONE = "200", "201", "202", "204"
ROLE = "403 role_not_allowed"  # the role may not use the operation at all
NOT_CREW = "403 not_patrol_owner"  # not on the patrol's crew (or, to read it, its area leader)
NOT_AREA = "403 not_area_member"  # neither leader nor member of the area (nor a manager)
NOT_OWNER = "403 not_upload_owner"  # an upload is finished or dropped by its uploader only
NO_SEAT = "403 not_roster_member"  # duty checks: the holders of the site's five-to-one seats
PLATFORM = "403 not_platform_admin"  # counties: platform admins only (none in the tests)
NO_SITE = "404 mine_site_not_found"  # a site is read by managers and its seat holders
NO_USER = "404 user_not_found"  # the directory shows colleagues only
NO_CASE = "404 case_not_found"  # the squad sees flagged, suggested or referred cases
NO_PROOF = "404 evidence_not_found"  # the clue desk reads no patrol evidence
NO_REF = "422 reference_not_found"  # evidence is attached to patrols the caller is on
NO_TASK = "404 satellite_task_not_found"  # a satellite task is read by its inspector and area

# fmt: off
MATRIX: dict[str, tuple[str, str, str, str, str, str]] = {
    # operation                  inspector  joint      captain    squad      admin      desk
    "AbortUpload":              (OK,        NOT_OWNER, NOT_OWNER, NOT_OWNER, NOT_OWNER, NOT_OWNER),
    "AcknowledgeAlert":         (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "AddReferralRule":          (ROLE,      ROLE,      ROLE,      ROLE,      NEW,       ROLE),
    "AddTarget":                (ROLE,      ROLE,      NEW,       ROLE,      NEW,       ROLE),
    "AnswerPetitionReview":     (ROLE,      ROLE,      OK,        ROLE,      OK,        OK),
    "AppendTrackPoints":        (OK,        OK,        NOT_CREW,  NOT_CREW,  NOT_CREW,  NOT_CREW),
    "AssignPetition":           (ROLE,      ROLE,      OK,        ROLE,      OK,        OK),
    "AssignSatelliteTasks":   (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "AssignTipOffVerification": (ROLE,     ROLE,      OK,        ROLE,      OK,        OK),
    "ChangeCaseStatus":         (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "CheckLocation":            (OK,        OK,        OK,        OK,        OK,        OK),
    "CheckLocations":           (OK,        OK,        OK,        OK,        OK,        OK),
    "CompleteUpload":           (OK,        NOT_OWNER, NOT_OWNER, NOT_OWNER, NOT_OWNER, NOT_OWNER),
    "CreateArea":               (ROLE,      ROLE,      NEW,       ROLE,      NEW,       ROLE),
    "CreateCounty":             (PLATFORM,  PLATFORM,  PLATFORM,  PLATFORM,  PLATFORM,  PLATFORM),
    "CreateMineSite":           (ROLE,      ROLE,      NEW,       ROLE,      NEW,       ROLE),
    "CreateReferral":           (ROLE,      ROLE,      NEW,       NEW,       ROLE,      ROLE),
    "CreateToken":              (OK,        OK,        OK,        OK,        OK,        OK),
    "CreateSatelliteBatch":   (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "CreateTownship":           (ROLE,      ROLE,      ROLE,      ROLE,      NEW,       ROLE),
    "CreateUpload":             (OK,        OK,        OK,        NO_REF,    OK,        NO_REF),
    "CreateUser":               (ROLE,      ROLE,      ROLE,      ROLE,      NEW,       ROLE),
    "CreateVillage":            (ROLE,      ROLE,      ROLE,      ROLE,      NEW,       ROLE),
    "DeactivateTarget":         (ROLE,      ROLE,      GONE,      ROLE,      GONE,      ROLE),
    "DecidePetition":           (ROLE,      ROLE,      OK,        ROLE,      OK,        OK),
    "DecideTipOff":           (ROLE,      ROLE,      OK,        ROLE,      OK,        OK),
    "DeleteFrequencyRule":      (ROLE,      ROLE,      GONE,      ROLE,      GONE,      ROLE),
    "DeleteHoliday":          (ROLE,      ROLE,      ROLE,      ROLE,      GONE,      ROLE),
    "EndPatrol":                (OK,        OK,        NOT_CREW,  NOT_CREW,  NOT_CREW,  NOT_CREW),
    "ExportCoverageCsv":        (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "ExportReferralPackage":    (ROLE,      ROLE,      OK,        OK,        OK,        ROLE),
    "ExportSatelliteBatch":     (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "ExportTracksGeoJson":      (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "ExtendPetition":           (ROLE,      ROLE,      OK,        ROLE,      OK,        OK),
    "FlagEvidence":             (ROLE,      ROLE,      OK,        OK,        OK,        ROLE),
    "FlagForReferral":          (ROLE,      ROLE,      NEW,       NO_CASE,   ROLE,      ROLE),
    "GetArea":                  (OK,        NOT_AREA,  OK,        NOT_AREA,  OK,        NOT_AREA),
    "GetCase":                  (OK,        OK,        OK,        OK,        OK,        NO_CASE),
    "GetCaseProcedure":         (OK,        OK,        OK,        OK,        OK,        NO_CASE),
    # the case file's documents and the 案卷
    "GenerateCaseDocument":    (ROLE,      ROLE,      NEW,       ROLE,      NEW,       ROLE),
    "ListCaseDocuments":       (OK,        OK,        OK,        OK,        OK,        NO_CASE),
    "GetCaseDocument":         (OK,        OK,        OK,        OK,        OK,        NO_CASE),
    "DownloadCaseDocument":    (OK,        OK,        OK,        OK,        OK,        NO_CASE),
    "AttachDocumentScan":      (ROLE,      ROLE,      NEW,       ROLE,      NEW,       ROLE),
    "ExportCaseFile":          (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "GetCoverage":              (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "GetCustody":               (OK,        OK,        OK,        OK,        OK,        NO_PROOF),
    "GetDerivativeUrl":         (OK,        OK,        OK,        OK,        OK,        NO_PROOF),
    "GetDutyStatus":            (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "GetEvidence":              (OK,        OK,        OK,        OK,        OK,        NO_PROOF),
    "GetConsoleConfig":         (OK,        OK,        OK,        OK,        OK,        OK),
    "GetCountySettings":        (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "GetHealth":                (OK,        OK,        OK,        OK,        OK,        OK),
    "GetImportJob":             (ROLE,      ROLE,      ROLE,      ROLE,      OK,        ROLE),
    "GetLayerGeoJson":          (OK,        OK,        OK,        OK,        OK,        OK),
    "GetLayerVersion":          (OK,        OK,        OK,        OK,        OK,        OK),
    "GetLiveStatus":            (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "GetMe":                    (OK,        OK,        OK,        OK,        OK,        OK),
    "GetMetrics":               (ROLE,      ROLE,      ROLE,      ROLE,      OK,        ROLE),
    "GetMineSite":              (OK,        NO_SITE,   OK,        NO_SITE,   OK,        NO_SITE),
    "GetMyPlan":                (OK,        OK,        OK,        OK,        OK,        OK),
    "GetOriginalUrl":           (OK,        OK,        OK,        OK,        OK,        NO_PROOF),
    "GetPatrol":                (OK,        OK,        OK,        NOT_CREW,  OK,        NOT_CREW),
    "GetPetition":              (ROLE,      ROLE,      OK,        ROLE,      OK,        OK),
    "GetPetitionFigures":       (ROLE,      ROLE,      OK,        ROLE,      OK,        OK),
    "GetPetitioner":            (ROLE,      ROLE,      OK,        ROLE,      ROLE,      OK),
    "GetPlan":                  (OK,        NOT_AREA,  OK,        NOT_AREA,  OK,        NOT_AREA),
    "GetReadiness":             (OK,        OK,        OK,        OK,        OK,        OK),
    "GetReferral":              (ROLE,      ROLE,      OK,        OK,        OK,        ROLE),
    "GetSigningKeys":           (OK,        OK,        OK,        OK,        OK,        OK),
    "GetRosterReport":          (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "GetSatelliteFigures":      (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "GetTile":                  (OK,        OK,        OK,        OK,        OK,        OK),
    "GetSatelliteBatch":      (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "GetTipOff":              (ROLE,      ROLE,      OK,        ROLE,      OK,        OK),
    "GetTipOffFigures":       (ROLE,      ROLE,      OK,        ROLE,      OK,        OK),
    "GetTipOffReporter":      (ROLE,      ROLE,      OK,        ROLE,      ROLE,      OK),
    "GetTownship":              (OK,        OK,        OK,        OK,        OK,        OK),
    "GetTrack":                 (OK,        OK,        OK,        NOT_CREW,  OK,        NOT_CREW),
    "GetUpload":                (OK,        NOT_OWNER, NOT_OWNER, NOT_OWNER, NOT_OWNER, NOT_OWNER),
    "GetUser":                  (OK,        OK,        OK,        NO_USER,   OK,        NO_USER),
    "GetVillage":               (OK,        OK,        OK,        OK,        OK,        OK),
    "HandleTipOff":           (ROLE,      ROLE,      OK,        ROLE,      OK,        OK),
    "ImportLayer":              (ROLE,      ROLE,      ROLE,      ROLE,      OK,        ROLE),
    "LinkCaseEvidence":         (OK,        ROLE,      OK,        ROLE,      OK,        ROLE),
    "ListAlerts":               (ROLE,      ROLE,      OK,        OK,        OK,        ROLE),
    "ListAreas":                (OK,        OK,        OK,        OK,        OK,        OK),
    "ListCases":                (OK,        OK,        OK,        OK,        OK,        OK),
    "ListCaseSteps":            (OK,        OK,        OK,        OK,        OK,        NO_CASE),
    "ListCounties":             (PLATFORM,  PLATFORM,  PLATFORM,  PLATFORM,  PLATFORM,  PLATFORM),
    "ListDevices":              (OK,        OK,        OK,        OK,        OK,        OK),
    "ListDutyChecks":           (OK,        OK,        OK,        OK,        OK,        OK),
    "ListEvidence":             (OK,        OK,        OK,        OK,        OK,        OK),
    "ListCountyFindings":       (OK,        OK,        OK,        OK,        OK,        OK),
    "ListFindings":             (OK,        OK,        OK,        NOT_CREW,  OK,        NOT_CREW),
    "ListFlags":                (ROLE,      ROLE,      OK,        OK,        OK,        ROLE),
    "ListFrequencyRules":       (OK,        OK,        OK,        OK,        OK,        OK),
    "ListHolidays":           (ROLE,      ROLE,      OK,        ROLE,      OK,        OK),
    "ListJobs":                 (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "ListLayerFeatures":        (OK,        OK,        OK,        OK,        OK,        OK),
    "ListLayerVersions":        (OK,        OK,        OK,        OK,        OK,        OK),
    "ListMineSites":            (OK,        OK,        OK,        OK,        OK,        OK),
    "ListOverdueReferralSteps": (ROLE,      ROLE,      OK,        OK,        OK,        ROLE),
    "ListPatrols":              (OK,        OK,        OK,        OK,        OK,        OK),
    "ListPetitions":            (ROLE,      ROLE,      OK,        ROLE,      OK,        OK),
    "ListPlans":                (OK,        OK,        OK,        OK,        OK,        OK),
    "ListReferralRules":        (OK,        OK,        OK,        OK,        OK,        OK),
    "ListReferrals":            (ROLE,      ROLE,      OK,        OK,        OK,        ROLE),
    "ListSignIns":              (OK,        OK,        OK,        NOT_CREW,  OK,        NOT_CREW),
    "ListTargetVerifications":  (OK,        NOT_AREA,  OK,        NOT_AREA,  OK,        NOT_AREA),
    "ListTargets":              (OK,        NOT_AREA,  OK,        NOT_AREA,  OK,        NOT_AREA),
    "ListSatelliteBatches":   (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "ListTipOffs":            (ROLE,      ROLE,      OK,        ROLE,      OK,        OK),
    "ListTownships":            (OK,        OK,        OK,        OK,        OK,        OK),
    "ListUsers":                (OK,        OK,        OK,        OK,        OK,        OK),
    "ListVillages":             (OK,        OK,        OK,        OK,        OK,        OK),
    "OpenCase":                 (NEW,       ROLE,      NEW,       ROLE,      NEW,       ROLE),
    "OpenCaseFromTipOff":     (ROLE,      ROLE,      OK,        ROLE,      OK,        OK),
    "OpenTipOff":             (ROLE,      ROLE,      NEW,       ROLE,      NEW,       NEW),
    "OverlayArea":              (OK,        OK,        OK,        OK,        OK,        OK),
    "PutHoliday":             (ROLE,      ROLE,      ROLE,      ROLE,      OK,        ROLE),
    "RecordDutyCheck":          (OK,        NO_SEAT,   NO_SEAT,   NO_SEAT,   NO_SEAT,   NO_SEAT),
    "RecordFinding":            (OK,        OK,        NOT_CREW,  NOT_CREW,  NOT_CREW,  NOT_CREW),
    "RecordHandover":           (ROLE,      ROLE,      OK,        OK,        OK,        ROLE),
    "RecordPoliceDecision":     (ROLE,      ROLE,      OK,        OK,        OK,        ROLE),
    "RecordPoliceReceipt":      (ROLE,      ROLE,      OK,        OK,        OK,        ROLE),
    "RecordReferralDecision":   (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "RecordReferralTransfer":   (ROLE,      ROLE,      OK,        OK,        OK,        ROLE),
    "RecordTargetVerification": (OK,        OK,        NOT_CREW,  NOT_CREW,  NOT_CREW,  NOT_CREW),
    "RecordTipOffFeedback":   (ROLE,      ROLE,      OK,        ROLE,      OK,        OK),
    "RefreshToken":             (OK,        OK,        OK,        OK,        OK,        OK),
    "RegisterDevice":           (NEW,       NEW,       NEW,       NEW,       NEW,       NEW),
    "RegisterPetition":         (ROLE,      ROLE,      NEW,       ROLE,      NEW,       NEW),
    "RemoveRosterMember":       (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "ReplyPetition":            (ROLE,      ROLE,      OK,        ROLE,      OK,        OK),
    "RequestPetitionReview":    (ROLE,      ROLE,      OK,        ROLE,      OK,        OK),
    "RequestReconsideration":   (ROLE,      ROLE,      OK,        OK,        OK,        ROLE),
    "ResetPassword":            (ROLE,      ROLE,      ROLE,      ROLE,      OK,        ROLE),
    "RevokeDevice":             (OK,        OK,        OK,        OK,        OK,        OK),
    "SetCaseTeam":              (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "SetFrequencyRule":         (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "SetMineSiteStatus":        (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "SetRosterMember":          (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "SignIn":                   (OK,        OK,        NOT_CREW,  NOT_CREW,  NOT_CREW,  NOT_CREW),
    "StartPatrol":              (OK,        NOT_AREA,  OK,        NOT_AREA,  OK,        NOT_AREA),
    "SyncPull":                 (OK,        OK,        OK,        OK,        OK,        OK),
    "SyncPush":                 (OK,        OK,        OK,        OK,        OK,        OK),
    "UpdateArea":               (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "UpdateCase":               (OK,        ROLE,      OK,        ROLE,      OK,        ROLE),
    "UpdateMineSite":           (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "UpdateTownship":           (ROLE,      ROLE,      ROLE,      ROLE,      OK,        ROLE),
    "UpdateUser":               (ROLE,      ROLE,      ROLE,      ROLE,      OK,        ROLE),
    "UpdateVillage":            (ROLE,      ROLE,      ROLE,      ROLE,      OK,        ROLE),
    "UpsertPlan":               (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "GetSatelliteTask":         (OK,        NO_TASK,   OK,        ROLE,      OK,        ROLE),
    "ListSatelliteResults":     (OK,        NO_TASK,   OK,        ROLE,      OK,        ROLE),
    "ListSatelliteTasks":       (OK,        OK,        OK,        ROLE,      OK,        ROLE),
    "OpenSatelliteCase":        (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "PutCasePenalty":           (OK,        ROLE,      OK,        ROLE,      OK,        ROLE),
    "RecordCaseStep":           (NEW,       ROLE,      NEW,       ROLE,      NEW,       ROLE),
    "RecordSatelliteResult":    (OK,        NO_TASK,   OK,        ROLE,      OK,        ROLE),
    "ReopenSatelliteTask":      (ROLE,      ROLE,      ROLE,      ROLE,      OK,        ROLE),
    "ReviewSatelliteTask":      (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "SubmitSatelliteTasks":     (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "GetStatistics":            (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "ListReports":              (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "CreateReport":             (ROLE,      ROLE,      QUEUED,    ROLE,      QUEUED,    ROLE),
    "GetReport":                (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
    "DownloadReport":           (ROLE,      ROLE,      OK,        ROLE,      OK,        ROLE),
}
# fmt: on

# The procuratorate (检察监督) is held to an allowlist: every operation not named here answers
# ROLE, whatever MATRIX says of the other roles (new rows need nothing here). It reads the
# referred case of the county (the world's case is referred) and its referral.
PROCURATORATE: dict[str, str] = {
    "CreateToken": OK,
    "RefreshToken": OK,
    "GetMe": OK,
    "GetConsoleConfig": OK,
    "GetHealth": OK,  # takes no token
    "GetReadiness": OK,  # takes no token
    "ListCases": OK,
    "GetCase": OK,
    "ListCaseSteps": OK,
    "GetCaseProcedure": OK,
    "ListReferrals": OK,
    "GetReferral": OK,
    "ListOverdueReferralSteps": OK,
    "ExportReferralPackage": OK,
    "GetSigningKeys": OK,
}
ALLOWLISTED: dict[Role, dict[str, str]] = {Role.PROCURATORATE: PROCURATORATE}


def expected(op_id: str, role: Role) -> str:
    if role in ALLOWLISTED:
        return ALLOWLISTED[role].get(op_id, ROLE)
    return MATRIX[op_id][COLUMNS.index(role)]


def refused_roles(op_id: str) -> set[Role]:
    """The roles MATRIX refuses ``op_id`` outright (``role_not_allowed``)."""
    return {r for r in ROLES if expected(op_id, r) == ROLE}


# -- the county ----------------------------------------------------------------------------------
@dataclass
class World:
    county: CountyFixture
    ids: dict[str, str]
    app: Litestar
    client: Client
    factory: async_sessionmaker[AsyncSession]
    settings: Settings

    def ctx(self, who: Role, /, **more: str) -> Ctx:
        mine = {
            "username": self.county.users[who].username,
            "password": TEST_PASSWORD,
        }
        return Ctx({**self.ids, **mine, **more}, LON, LAT)

    def headers(self, role: Role) -> dict[str, str]:
        return self.county.headers(role)

    async def post(self, role: Role, path: str, data: Any, *, method: str = "POST") -> Any:
        """Arrange: ``role`` sends ``data``, which must succeed."""
        resp = await self.client.request(
            method, f"{API}{path}", json=data, headers=self.headers(role)
        )
        assert resp.status_code in {200, 201}, f"{method} {path}: {resp.text}"
        return resp.json()


async def _area(w: World) -> dict[str, str]:
    c = w.ctx(Role.CAPTAIN, user_id=str(w.county.users[Role.INSPECTOR].id))
    area = await w.post(Role.CAPTAIN, "/areas", body("CreateArea", c))
    target = await w.post(Role.CAPTAIN, f"/areas/{area['id']}/targets", body("AddTarget", c))
    rule = await w.post(Role.CAPTAIN, f"/frequency-rules/{uuid7()}", {"name": "规则"}, method="PUT")
    return {"area_id": area["id"], "target_id": target["id"], "rule_id": rule["id"]}


async def _patrol(w: World, area_id: str) -> str:
    patrol_id = str(uuid7())
    start = {
        "areaId": area_id,
        "startedAt": (clock.now() - timedelta(hours=1)).isoformat(),
        "companionIds": [str(w.county.users[Role.JOINT_TEAM].id)],
    }
    await w.post(Role.INSPECTOR, f"/patrols/{patrol_id}", start, method="PUT")
    return patrol_id


async def _site(w: World) -> dict[str, str]:
    c = w.ctx(Role.CAPTAIN)
    site = await w.post(Role.CAPTAIN, "/geofence/mine-sites", body("CreateMineSite", c))
    inspector = str(w.county.users[Role.INSPECTOR].id)
    await w.post(
        Role.CAPTAIN,
        f"/geofence/mine-sites/{site['id']}/roster/village_cadre",
        {"userId": inspector},
        method="PUT",
    )
    return {"site_id": site["id"], "role": "village_cadre", "version_id": site["layerVersionId"]}


async def _alert(w: World, site_id: str) -> str:
    key = f"matrix:{uuid7()}"
    async with w.factory() as session:
        await raise_alert(
            session, county_id=w.county.id, kind="site_reopening", severity="high",
            dedupe_key=key, message="复采迹象", site_id=uuid.UUID(site_id),
        )  # fmt: skip
        alert_id = await session.scalar(select(PatrolAlert.id).where(PatrolAlert.dedupe_key == key))
        await session.commit()
    return str(alert_id)


async def _case(w: World, *, flagged: bool) -> str:
    c = w.ctx(Role.CAPTAIN)
    case = await w.post(Role.CAPTAIN, "/cases", body("OpenCase", c))
    team = [
        {"userId": str(w.county.users[Role.INSPECTOR].id), "roleInTeam": "lead"},
        {"userId": str(w.county.users[Role.JOINT_TEAM].id), "roleInTeam": "joint"},
    ]
    await w.post(Role.CAPTAIN, f"/cases/{case['id']}/team", {"members": team}, method="PUT")
    if flagged:
        await w.post(Role.CAPTAIN, "/referral-flags", {"caseId": case["id"], "reason": "疑似犯罪"})
    return str(case["id"])


_STEPS = (
    ("decision", Role.CAPTAIN, "RecordReferralDecision"),
    ("transfer", Role.SECURITY_SQUAD, "RecordReferralTransfer"),
    ("police-receipt", Role.SECURITY_SQUAD, "RecordPoliceReceipt"),
)


async def _referral(w: World, steps: int = 0, *, police: bool | None = None) -> dict[str, str]:
    """A fresh referral of a fresh flagged case, moved ``steps`` steps on (then the police
    decision, ``filed=police``, when given)."""
    case_id = await _case(w, flagged=True)
    c = w.ctx(Role.CAPTAIN)
    referral = await w.post(
        Role.SECURITY_SQUAD, f"/cases/{case_id}/referrals", body("CreateReferral", c)
    )
    rid = referral["id"]
    for path, role, op in _STEPS[:steps]:
        await w.post(role, f"/referrals/{rid}/{path}", body(op, c))
    if police is not None:
        decision = {"filed": police, "reason": "" if police else "证据不足"}
        await w.post(Role.SECURITY_SQUAD, f"/referrals/{rid}/police-decision", decision)
    return {"case_id": case_id, "referral_id": rid}


async def _petition(w: World, steps: int = 0) -> dict[str, str]:
    """A fresh petition the clue desk registered, moved ``steps`` steps on (accepted,
    replied, review asked)."""
    desk = Role.CLUE_DESK
    c = w.ctx(desk)
    petition = await w.post(desk, "/petitions", body("RegisterPetition", c))
    pid = petition["id"]
    moves = (
        ("decision", "DecidePetition"),
        ("reply", "ReplyPetition"),
        ("review-requests", "RequestPetitionReview"),
    )
    for path, op in moves[:steps]:
        await w.post(desk, f"/petitions/{pid}/{path}", body(op, c))
    return {"petition_id": pid}


async def _pending_upload(w: World) -> str:
    """An upload of the inspector whose bytes arrived but which is not completed yet."""
    principal = w.county.principal(Role.INSPECTOR)
    store = S3ObjectStore(w.settings.object_store)
    data = _photo(LON, LAT)
    new = NewUpload(
        evidence_id=uuid7(),
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        content_type="image/jpeg",
        content_md5=_md5(data),
        fix=ClaimedFix(lon=LON, lat=LAT, accuracy_m=5.0),
        patrol_session_id=uuid.UUID(w.ids["patrol_id"]),
    )
    async with w.factory() as session:
        service = EvidenceService(session, store, w.settings.evidence, GeofenceLocationChecker())
        await service.create_upload(principal, new)
        await session.commit()
    key = f"originals/{principal.county_id}/{new.evidence_id}/a1"
    await store.put_bytes(key, data, content_type="image/jpeg")
    return str(new.evidence_id)


async def _tip_off(w: World, step: str = "received") -> str:
    """A fresh tip-off registered by the desk, moved on to ``step`` (accepted, verified,
    refused); the verification is recorded as the patrol's verification result would."""
    c = w.ctx(Role.CLUE_DESK)
    clue = await w.post(Role.CLUE_DESK, "/tip-offs", body("OpenTipOff", c))
    tid = clue["id"]
    if step == "refused":
        decision = {"decision": "refuse", "refusalReason": "state_secrets"}
        await w.post(Role.CLUE_DESK, f"/tip-offs/{tid}/decision", decision)
    if step in ("accepted", "verified"):
        await w.post(Role.CLUE_DESK, f"/tip-offs/{tid}/decision", {"decision": "accept"})
    if step == "verified":
        view = await w.post(Role.CLUE_DESK, f"/tip-offs/{tid}/verification", {})
        async with w.factory() as session:
            inspector = w.county.users[Role.INSPECTOR].id
            target = uuid.UUID(view["targetId"])
            result = _Verified(w.county.id, target, uuid.UUID(tid), inspector)
            await on_tip_off_verified(session, result)
            await session.commit()
    return str(tid)


@dataclass(frozen=True)
class _Verified:
    """A field verification result (the patrol side's, built elsewhere)."""

    county_id: uuid.UUID
    target_id: uuid.UUID
    ref_id: uuid.UUID
    inspector_id: uuid.UUID
    target_kind: str = "tip_off"
    session_id: uuid.UUID | None = None
    outcome: str = "found"
    note: str = ""
    finding_ids: tuple[uuid.UUID, ...] = ()
    evidence_ids: tuple[uuid.UUID, ...] = ()
    verified_at: datetime = clock.NOW


async def _satellite_task(
    w: World, status: str = "assigned", outcome: str | None = None
) -> dict[str, str]:
    """A fresh satellite task of the inspector in the area, in ``status`` (with a current
    result of ``outcome``)."""
    return await seed_task(
        w.factory, w.county.id, lon=LON, lat=LAT, captain_id=w.county.users[Role.CAPTAIN].id,
        inspector_id=w.county.users[Role.INSPECTOR].id, area_id=uuid.UUID(w.ids["area_id"]),
        status=status, outcome=outcome,
    )  # fmt: skip


_HOLIDAYS = itertools.count()


async def _holiday(w: World) -> str:
    """A fresh holiday in the county's calendar (a Monday far ahead)."""
    day = date(2031, 1, 6) + timedelta(weeks=next(_HOLIDAYS))
    await w.post(Role.ADMIN, "/work-calendar", {"day": day.isoformat(), "kind": "holiday"})
    return day.isoformat()


async def _build(w: World) -> None:
    users = w.county.users
    w.ids.update(
        user_id=str(users[Role.INSPECTOR].id),
        captain_id=str(users[Role.CAPTAIN].id),
        squad_id=str(users[Role.SECURITY_SQUAD].id),
        month=clock.this_month().strftime("%Y-%m"),
        kind="thumbnail",
        layer="mine_sites",
        z="14",
        x="13293",
        y="6885",
    )
    w.ids["team_ids"] = f"{w.ids['squad_id']},{w.ids['captain_id']}"
    w.ids.update(await _area(w))
    w.ids["patrol_id"] = await _patrol(w, w.ids["area_id"])
    c = w.ctx(Role.INSPECTOR)
    patrol = w.ids["patrol_id"]
    sign_in = await w.post(
        Role.INSPECTOR, f"/patrols/{patrol}/sign-ins/{uuid7()}", body("SignIn", c), method="PUT"
    )
    finding = await w.post(
        Role.INSPECTOR,
        f"/patrols/{patrol}/findings/{uuid7()}",
        body("RecordFinding", c),
        method="PUT",
    )
    w.ids.update(sign_in_id=sign_in["id"], finding_id=finding["id"])
    verified = await w.post(
        Role.INSPECTOR,
        f"/targets/{w.ids['target_id']}/verifications/{uuid7()}",
        body("RecordTargetVerification", c),
        method="PUT",
    )
    w.ids["verification_id"] = verified["id"]
    w.ids.update(await _site(w))
    check = await w.post(
        Role.INSPECTOR,
        f"/duty-checks/{uuid7()}",
        body("RecordDutyCheck", w.ctx(Role.INSPECTOR)),
        method="PUT",
    )
    w.ids["check_id"] = check["id"]
    w.ids["alert_id"] = await _alert(w, w.ids["site_id"])
    w.ids.update(await _referral(w))
    letter = {"kind": "referral_letter"}  # the referral's letter: a document of the case
    document = await w.post(Role.CAPTAIN, f"/cases/{w.ids['case_id']}/documents", letter)
    w.ids["document_id"] = document["id"]
    w.ids.update(await _petition(w))
    admin = w.ctx(Role.ADMIN)
    town = await w.post(Role.ADMIN, "/townships", body("CreateTownship", admin))
    w.ids["township_id"] = town["id"]
    village = await w.post(Role.ADMIN, "/villages", body("CreateVillage", w.ctx(Role.ADMIN)))
    w.ids["village_id"] = village["id"]
    evidence = await seed_evidence(
        w.factory, S3ObjectStore(w.settings.object_store), w.settings,
        w.county.principal(Role.INSPECTOR), lon=LON, lat=LAT,
        case_id=uuid.UUID(w.ids["case_id"]),
    )  # fmt: skip
    w.ids["evidence_id"] = str(evidence)
    async with w.factory() as session:
        job = ImportJob(
            county_id=w.county.id, kind="parcels", state="done", source_name="a.gpkg",
            source_bytes=1, options={}, read_count=0, stored_count=0, repaired_count=0,
            rejected_count=0, issues={}, runner="matrix",
        )  # fmt: skip
        session.add(job)
        await session.commit()
    w.ids["job_id"] = str(job.id)
    w.ids["tip_off_id"] = await _tip_off(w)
    w.ids["day"] = await _holiday(w)
    w.ids.update(await _satellite_batch(w))
    w.ids.update(await _satellite_task(w))
    w.ids["report_id"] = await _report(w)


async def _report(w: World) -> str:
    """A monthly report of last month, generated."""
    data = {"template": "monthly", "date": clock.LAST_MONTH.isoformat()}
    resp = await w.client.post(f"{API}/reports", json=data, headers=w.headers(Role.CAPTAIN))
    assert resp.status_code == 202, resp.text
    report_id = resp.json()["id"]
    store = S3ObjectStore(w.settings.object_store)
    await generate_report(w.factory, store, uuid.UUID(report_id))
    return str(report_id)


async def _satellite_batch(w: World) -> dict[str, str]:
    """A satellite batch of one polygon in the inspector's area: its task is assigned."""
    upload = satellite_batch_file(w.ctx(Role.CAPTAIN), dry_run=False)
    resp = await w.client.post(
        f"{API}/satellite/batches", data=upload.data, files=upload.files,
        headers=w.headers(Role.CAPTAIN),
    )  # fmt: skip
    assert resp.status_code == 200, resp.text
    batch_id = resp.json()["batch"]["id"]
    async with w.factory() as session:
        task_id = await session.scalar(
            select(SatelliteTask.id).where(SatelliteTask.batch_id == uuid.UUID(batch_id))
        )
    return {"batch_id": batch_id, "task_id": str(task_id)}


@pytest.fixture(scope="module")
async def keyed(app: Litestar, settings: Settings) -> AsyncIterator[tuple[Litestar, Client]]:
    """The app with a package signing key (the shared one has none), and its client."""
    del app  # its store's bucket exists
    evidence = replace(settings.evidence, package_signing_key=f"matrix-{uuid7().hex}")
    signing = create_app(replace(settings, evidence=evidence))
    async with AsyncTestClient(app=signing, raise_server_exceptions=False) as client:
        yield signing, client


@pytest.fixture(scope="module")
async def world(
    keyed: tuple[Litestar, Client],
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> World:
    app, client = keyed
    county = await create_county(session_factory, app.state.tokens, lon=LON, lat=LAT)
    w = World(county, {}, app, client, session_factory, settings)
    await _build(w)
    # the thumbnail of the evidence (GetDerivativeUrl)
    await run_jobs(settings.database, session_factory, app.state.store, settings.evidence)
    return w


# -- operations that change a record for good: a fresh one for each call --------------------------
async def _fresh_device(w: World, role: Role) -> dict[str, str]:
    owner = role if expected("RegisterDevice", role) == NEW else Role.INSPECTOR
    device = await w.post(owner, "/auth/devices", {"name": "手机"})
    return {"device_id": device["device"]["id"]}


async def _fresh_refresh(w: World, role: Role) -> dict[str, str]:
    resp = await w.client.post(f"{API}/auth/token", json=body("CreateToken", w.ctx(role)))
    assert resp.status_code in {200, 201}, resp.text
    return {"refresh_token": resp.json()["refreshToken"]}


async def _fresh_user(w: World, role: Role) -> dict[str, str]:
    user = await w.post(Role.ADMIN, "/admin/users", body("CreateUser", w.ctx(Role.ADMIN)))
    return {"user_id": user["id"]}


async def _fresh_patrol(w: World, role: Role) -> dict[str, str]:
    return {"patrol_id": await _patrol(w, w.ids["area_id"])}


async def _fresh_target(w: World, role: Role) -> dict[str, str]:
    c = w.ctx(Role.CAPTAIN)
    target = await w.post(Role.CAPTAIN, f"/areas/{w.ids['area_id']}/targets", body("AddTarget", c))
    return {"target_id": target["id"]}


async def _fresh_rule(w: World, role: Role) -> dict[str, str]:
    rule = await w.post(Role.CAPTAIN, f"/frequency-rules/{uuid7()}", {"name": "规则"}, method="PUT")
    return {"rule_id": rule["id"]}


async def _fresh_site(w: World, role: Role) -> dict[str, str]:
    return await _site(w)


async def _fresh_alert(w: World, role: Role) -> dict[str, str]:
    return {"alert_id": await _alert(w, w.ids["site_id"])}


async def _fresh_upload(w: World, role: Role) -> dict[str, str]:
    return {"evidence_id": await _pending_upload(w)}


async def _fresh_case(w: World, role: Role) -> dict[str, str]:
    return {"case_id": await _case(w, flagged=False)}


async def _fresh_filed(w: World, role: Role) -> dict[str, str]:
    """A fresh case of the inspector's team, filed (立案) by the captain."""
    case_id = await _case(w, flagged=False)
    await w.post(Role.CAPTAIN, f"/cases/{case_id}/steps", {"kind": "filing"})
    return {"case_id": case_id}


async def _fresh_flagged(w: World, role: Role) -> dict[str, str]:
    return {"case_id": await _case(w, flagged=True)}


def _referral_at(steps: int, *, police: bool | None = None) -> Fresh:
    async def make(w: World, role: Role) -> dict[str, str]:
        return await _referral(w, steps, police=police)

    return make


def _petition_at(steps: int) -> Fresh:
    async def make(w: World, role: Role) -> dict[str, str]:
        return await _petition(w, steps)

    return make


def _fresh_tip_off(step: str) -> Fresh:
    async def make(w: World, role: Role) -> dict[str, str]:
        return {"tip_off_id": await _tip_off(w, step)}

    return make


def _fresh_satellite(status: str, outcome: str | None = None) -> Fresh:
    async def make(w: World, role: Role) -> dict[str, str]:
        return await _satellite_task(w, status, outcome)

    return make


async def _fresh_holiday(w: World, role: Role) -> dict[str, str]:
    return {"day": await _holiday(w)}


Fresh = Callable[[World, Role], Awaitable[dict[str, str]]]

_FRESH: dict[str, Fresh] = {
    "RevokeDevice": _fresh_device,
    "ResetPassword": _fresh_user,
    "RefreshToken": _fresh_refresh,
    "EndPatrol": _fresh_patrol,
    "DeactivateTarget": _fresh_target,
    "DeleteFrequencyRule": _fresh_rule,
    "RemoveRosterMember": _fresh_site,
    "SetMineSiteStatus": _fresh_site,
    "AcknowledgeAlert": _fresh_alert,
    "CompleteUpload": _fresh_upload,
    "AbortUpload": _fresh_upload,
    "ChangeCaseStatus": _fresh_case,
    "SetCaseTeam": _fresh_case,
    "FlagForReferral": _fresh_case,
    "CreateReferral": _fresh_flagged,
    "RecordCaseStep": _fresh_filed,
    "RecordReferralDecision": _referral_at(0),
    "RecordReferralTransfer": _referral_at(1),
    "RecordPoliceReceipt": _referral_at(2),
    "RecordPoliceDecision": _referral_at(3),
    "RecordHandover": _referral_at(3, police=True),
    "RequestReconsideration": _referral_at(3, police=False),
    "DecidePetition": _petition_at(0),
    "AssignPetition": _petition_at(1),
    "ExtendPetition": _petition_at(1),
    "ReplyPetition": _petition_at(1),
    "RequestPetitionReview": _petition_at(2),
    "AnswerPetitionReview": _petition_at(3),
    "DecideTipOff": _fresh_tip_off("received"),
    "AssignTipOffVerification": _fresh_tip_off("accepted"),
    "HandleTipOff": _fresh_tip_off("verified"),
    "OpenCaseFromTipOff": _fresh_tip_off("verified"),
    "RecordTipOffFeedback": _fresh_tip_off("refused"),
    "DeleteHoliday": _fresh_holiday,
    "ReviewSatelliteTask": _fresh_satellite("verified", "not_new"),
    "SubmitSatelliteTasks": _fresh_satellite("passed", "not_new"),
    "ReopenSatelliteTask": _fresh_satellite("submitted", "not_new"),
    "OpenSatelliteCase": _fresh_satellite("passed", "illegal"),
}


def _answer(resp: Any) -> str:
    if resp.status_code < 300:
        return str(resp.status_code)
    try:
        code = resp.json().get("code")
    except ValueError:
        code = None
    return f"{resp.status_code} {code}"


def _documented(op_id: str, answer: str) -> bool:
    """Whether the OpenAPI document lists ``answer``'s code for the operation."""
    status, _, code = answer.partition(" ")
    if not code:
        return True
    listed = set(OPERATION_ERRORS.get(op_id, {}).get(int(status), ()))
    for shared in SHARED_ERRORS.values():
        listed |= set(shared.get(int(status), ()))
    return code in listed


def test_every_operation_has_a_row(app: Litestar) -> None:
    assert set(ROLES) == set(Role), "a new role: add its column to MATRIX (or ALLOWLISTED)"
    for role, answers in ALLOWLISTED.items():
        assert not answers.keys() - MATRIX.keys(), f"{role}: no such operation"
    served = {op.operation_id for op in operations(app)}
    assert not served - MATRIX.keys(), (
        f"add a row to tests/api/test_role_matrix.py MATRIX for {sorted(served - MATRIX.keys())}"
    )
    assert not MATRIX.keys() - served, f"no such operation: {sorted(MATRIX.keys() - served)}"


def _check(op: Operation, role: Role, resp: Any) -> str | None:
    """What is wrong with ``resp`` as ``role``'s answer from ``op`` (``None``: nothing)."""
    got, want = _answer(resp), expected(op.operation_id, role)
    if got != want:
        return f"{op.operation_id} as {role}: {got}, expected {want}: {resp.text[:300]}"
    if not _documented(op.operation_id, got):
        return f"{op.operation_id}: {got} is not in api/openapi_errors.py OPERATION_ERRORS"
    if op.operation_id == "SyncPush" and got == OK:
        # its one op is a sign-in: the same rule as the REST SignIn, through the sync path
        [receipt] = resp.json()["receipts"]
        sign_in = expected("SignIn", role)
        want = "applied" if sign_in == OK else f"rejected {sign_in.split()[1]}"
        seen = (
            receipt["status"]
            if receipt["status"] == "applied"
            else (f"{receipt['status']} {receipt.get('code')}")
        )
        if seen != want:
            return f"SyncPush as {role}: the sign-in is {seen}, SignIn's row says {want}"
    if got == ROLE and role in ALLOWLISTED:
        # the guard's refusal (api/guards.py), before any rule of the operation is consulted
        if (resp.json().get("details") or {}).get("allowedRoles") is not None:
            return f"{op.operation_id} as {role}: refused by the operation, not the allowlist"
    elif got == ROLE:
        allowed = set(resp.json()["details"]["allowedRoles"])
        table = {r.value for r in ROLES if r not in refused_roles(op.operation_id)}
        if allowed != table:
            return f"{op.operation_id}: the code allows {sorted(allowed)}, MATRIX {sorted(table)}"
    return None


async def test_every_role_gets_its_answer_from_every_operation(world: World) -> None:
    wrong: list[str] = []
    calls = 0
    for op in operations(world.app):
        for role in ROLES:
            fresh = _FRESH.get(op.operation_id)
            more = await fresh(world, role) if fresh is not None else {}
            resp = await request(world.client, op, world.ctx(role, **more), world.headers(role))
            calls += 1
            problem = _check(op, role, resp)
            if problem is not None:
                wrong.append(problem)
    assert not wrong, "\n".join(wrong)
    assert calls == len(MATRIX) * len(ROLES)
