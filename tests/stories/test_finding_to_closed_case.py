"""A finding on a patrol, taken to a closed case and its 案卷, against the real app, PostGIS and
S3.

The county admin has imported the land survey (cultivated land east of the village, basic
farmland west of it). On Wednesday 18 November 2026 the inspector's patrol finds a levelled
plot, partly built, on cultivated land: he walks its boundary, records the finding and
uploads a photo of it. The next morning the captain opens a case from the finding (its photo
comes with it); filing is due ten working days after the finding, and the county's holiday
on Wednesday the 25th moves that to the end of Thursday 3 December, the instant before which
the captain files it. The investigation: an inspection record and two inquiries (the
builder, a witness). The penalty: the builder (a valid ID number), 《土地管理法》第七十七条,
demolition within 15 days and a fine of 450,000 yuan for the occupied cultivated land —
inside the 100-1,000 yuan per m² the area allows; an amount above it is refused. A major
case: legal review and collective discussion, then the notice; the party's statement within
his five days; a hearing asked for, notified seven days ahead (six is refused), held. An
appraisal pauses the 90 days for two weeks; the decision comes in the last instant of its
moved limit, is served, the fine is paid, court enforcement asked too early is refused, the
party demolishes and the case is closed.

Each step's document is generated at its step and read back from its PDF with the case's
facts; every generation and download is in the county's custody chain with the hash of the
bytes downloaded; the 案卷 comes in order and verifies against the published key; the
joint-team member on the case reads the case with the party's number masked and may not
download the decision.

Everything goes over HTTP with the app's clock pinned to each step's moment
(``app.state.clock``). The patrol is recorded over REST (the sync push refuses operations
more than 30 days older than the server's real clock, so a pinned story would expire).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pypdf
import pytest
import shapely
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import create_app
from evidence.cases.package import verify_package
from evidence.cases.package_keys import load_public_keys
from evidence.custody import CustodyLog
from evidence.models import CustodyEntry
from infra.ids import uuid7
from infra.scope import Role
from infra.settings import Settings
from tests import clock
from tests.conftest import CountyFixture
from tests.evidence import media

Client = AsyncTestClient[Litestar]
API = "/api/v1"
LON, LAT = 112.1, 28.5
CHINA = clock.CHINA
TINY = timedelta(microseconds=1)
PLOT = (LON + 0.02, LAT)  # on the cultivated land east of the village
PARTY_ID = "430124197803156411"
MASKED = "**************6411"
FINE = Decimal(450_000)
OUTLINE = shapely.geometry.mapping(
    shapely.box(PLOT[0] - 0.0003, PLOT[1] - 0.0003, PLOT[0] + 0.0003, PLOT[1] + 0.0003)
)  # the boundary the inspector walked


def _china(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHINA).astimezone(UTC)  # type: ignore[misc]


def _wire(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _square(lon: float, lat: float, half: float) -> dict[str, Any]:
    return shapely.geometry.mapping(shapely.box(lon - half, lat - half, lon + half, lat + half))


def _text(pdf: bytes) -> str:
    """The PDF's text without spaces and line breaks (lines wrap anywhere)."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))


class Clock:
    def __init__(self) -> None:
        self.now = clock.NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
async def keyed(app: Litestar, settings: Settings) -> AsyncIterator[tuple[Client, Settings]]:
    """The app with a package signing key (the shared app has none), and its client."""
    del app  # its store's bucket exists
    evidence = replace(settings.evidence, package_signing_key=f"story-{uuid7().hex}")
    signing = replace(settings, evidence=evidence)
    async with AsyncTestClient(app=create_app(signing), raise_server_exceptions=False) as client:
        yield client, signing


@pytest.fixture
def fixed(keyed: tuple[Client, Settings]) -> Iterator[Clock]:
    story = Clock()
    keyed[0].app.state.clock = story
    yield story
    del keyed[0].app.state.clock


@dataclass
class Story:
    """One county's people working the case over HTTP, with the app's clock."""

    client: Client
    county: CountyFixture
    clock: Clock
    path: str = ""  # the case's, once opened
    steps: dict[str, str] = field(default_factory=dict)  # the latest step of each kind
    docs: list[dict[str, Any]] = field(default_factory=list)  # in the order generated

    def who(self, role: Role) -> dict[str, str]:
        return self.county.headers(role)

    async def call(
        self, when: datetime | None, method: str, path: str, role: Role = Role.CAPTAIN,
        body: Any = None, *, expect: int | tuple[int, ...] = (200, 201),
    ) -> Any:  # fmt: skip
        if when is not None:
            self.clock.now = when
        resp = await self.client.request(method, f"{API}{path}", json=body, headers=self.who(role))
        wanted = (expect,) if isinstance(expect, int) else expect
        assert resp.status_code in wanted, f"{method} {path}: {resp.status_code} {resp.text}"
        return resp.json() if resp.content else None

    async def step(self, when: datetime, kind: str, role: Role = Role.CAPTAIN, **body: Any) -> Any:
        done = await self.call(when, "POST", f"{self.path}/steps", role, {"kind": kind, **body})
        self.steps[kind] = done["id"]
        return done

    async def refused(self, when: datetime, kind: str, status: int, code: str, **body: Any) -> Any:
        problem = await self.call(when, "POST", f"{self.path}/steps", Role.CAPTAIN,
                                  {"kind": kind, **body}, expect=status)  # fmt: skip
        assert problem["code"] == code, problem
        return problem

    async def document(self, when: datetime, kind: str, step: str, **body: Any) -> None:
        """The captain generates the document of the latest step of kind ``step``."""
        made = await self.call(when, "POST", f"{self.path}/documents", Role.CAPTAIN,
                               {"kind": kind, "stepId": self.steps[step], **body})  # fmt: skip
        assert made["generatedAt"] == _wire(when)
        self.docs.append(made)

    async def deadline(self, step: str) -> dict[str, Any]:
        proc = await self.call(None, "GET", f"{self.path}/procedure")
        found: dict[str, Any] = next(d for d in proc["deadlines"] if d["step"] == step)
        return found

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]


# -- the field work ------------------------------------------------------------------------------
async def _survey_and_area(story: Story) -> str:
    """The admin's land survey and the captain's contract area led by the inspector."""
    story.clock.now = _china(2026, 11, 17, 9)
    survey = json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"DLBM": "0101", "JBNT": "1"},
         "geometry": _square(LON - 0.05, LAT, 0.05)},
        {"type": "Feature", "properties": {"DLBM": "0103", "JBNT": "0"},
         "geometry": _square(LON + 0.05, LAT, 0.05)},
    ]}).encode()  # fmt: skip
    resp = await story.client.post(
        f"{API}/geofence/layers/import", headers=story.who(Role.ADMIN), data={"kind": "parcels"},
        files={"file": ("survey.geojson", survey, "application/geo+json")},
    )  # fmt: skip
    assert resp.status_code == 200, resp.text
    area = await story.call(None, "POST", "/areas", Role.CAPTAIN, {
        "code": "D01", "name": "东风片区", "grade": 2, "geometry": _square(LON + 0.02, LAT, 0.03),
        "leaderId": str(story.county.users[Role.INSPECTOR].id),
    })  # fmt: skip
    return str(area["id"])


async def _photo(story: Story, patrol: uuid.UUID, finding: uuid.UUID, taken: datetime) -> bytes:
    """The phone's photo of the plot, through the upload flow, linked to the finding."""
    photo = media.jpeg(exif=media.exif_bytes(
        lon=PLOT[0], lat=PLOT[1], when=taken.astimezone(CHINA), direction=90.0, hpe=5.0,
    ))  # fmt: skip
    photo_id = uuid7()
    ticket = await story.call(taken, "POST", f"/evidence/uploads/{photo_id}", Role.INSPECTOR, {
        "sha256": hashlib.sha256(photo).hexdigest(), "sizeBytes": len(photo),
        "contentType": "image/jpeg", "fileName": "IMG_0001.jpg",
        "contentMd5": media.md5_b64(photo), "claimedCapturedAt": _wire(taken),
        "fix": {"lon": PLOT[0], "lat": PLOT[1], "accuracyM": 5.0, "crs": "wgs84"},
        "headingDeg": 90.0, "caption": "在建厂房东侧远景", "proves": "占用耕地建房的位置和现状",
        "viewType": "far", "patrolId": str(patrol), "findingId": str(finding),
    })  # fmt: skip
    async with httpx.AsyncClient(timeout=60) as http:
        for item in ticket["requests"]:
            put = await http.request(
                item["method"], item["url"], content=photo, headers=item["headers"]
            )
            assert put.status_code == 200, put.text
    done = await story.call(None, "POST", f"/evidence/uploads/{photo_id}/complete", Role.INSPECTOR)
    assert (done["id"], done["sha256"]) == (str(photo_id), hashlib.sha256(photo).hexdigest())
    return photo


async def _finding(story: Story, area_id: str, found_at: datetime) -> tuple[str, bytes, str]:
    """The patrol of Wednesday 18 November: the finding (its walked outline on cultivated
    land) and its photo; the finding's id, the photo and its evidence id."""
    patrol, finding_id = uuid7(), uuid7()
    start, end = found_at - timedelta(hours=1), found_at + timedelta(hours=1)
    await story.call(start, "PUT", f"/patrols/{patrol}", Role.INSPECTOR,
                     {"areaId": area_id, "startedAt": _wire(start)})  # fmt: skip
    finding = await story.call(found_at, "PUT", f"/patrols/{patrol}/findings/{finding_id}",
                               Role.INSPECTOR, {
        "foundAt": _wire(found_at), "projectName": "耕地上平整土地建厂房",
        "constructionStatus": "partly_built", "builder": "张三", "lon": PLOT[0], "lat": PLOT[1],
        "accuracyM": 5.0, "outline": OUTLINE, "note": "场地已推平，东侧厂房砌墙过半",
    })  # fmt: skip
    assert finding["landClass"] == "cultivated"
    assert {u["landClass"] for u in finding["landUse"]} == {"cultivated"}
    photo = await _photo(story, patrol, finding_id, found_at + timedelta(minutes=5))
    await story.call(end, "POST", f"/patrols/{patrol}/end", Role.INSPECTOR,
                     {"endedAt": _wire(end)})  # fmt: skip
    [evidence] = (await story.call(None, "GET", f"/evidence?patrol_id={patrol}", Role.INSPECTOR))[
        "items"
    ]
    return str(finding_id), photo, str(evidence["id"])


# -- what the documents, the custody chain and the 案卷 say ---------------------------------------
def _check_numbers(story: Story) -> None:
    """Each kind's numbers run from 1 in the year of its generation, without gaps."""
    short = story.docs[0]["docNo"].split("自然资")[0]
    marks = {"filing_approval": "立", "inspection_record": "勘", "inquiry_record": "询",
             "penalty_notice": "告", "hearing_notice": "听", "decision": "罚",
             "service_receipt": "送", "closing_approval": "结"}  # fmt: skip
    for kind, mark in marks.items():
        made = story.of_kind(kind)
        year = datetime.fromisoformat(made[0]["generatedAt"]).astimezone(CHINA).year
        assert [d["docNo"] for d in made] == [
            f"{short}自然资{mark}〔{year}〕{n}号" for n in range(1, len(made) + 1)
        ], kind
    assert [len(story.of_kind(k)) for k in marks] == [1, 1, 2, 1, 2, 1, 1, 1]


async def _check_documents(
    story: Story, case_no: str, area_m2: Decimal, qa: list[list[dict[str, str]]]
) -> dict[str, bytes]:
    """Download each document: its hash, its facts read back from the PDF; the PDFs by id."""
    [decision] = story.of_kind("decision")
    assert decision["facts"]["fine_total_yuan"] == "450000.00"
    assert decision["facts"]["fine_total_capitals"] == "肆拾伍万元整"
    assert story.of_kind("penalty_notice")[0]["facts"]["deadlines"]["statement"] == "2026-12-14"
    area = f"{area_m2:,.2f}平方米"
    says: dict[str, tuple[str, ...]] = {
        "filing_approval": ("立案审批表", "张三未经批准占用耕地建设厂房", area,
                            "应于2026年12月3日前立案"),
        "inspection_record": ("现场勘验（检查）笔录", "2026年12月04日09时00分", "砖混结构",
                              "在建厂房东侧远景", area),
        "penalty_notice": ("行政处罚告知书", PARTY_ID, "第七十七条", "第五十七条", "450,000.00",
                           "肆拾伍万元整", "（限15日内）", "2026年12月14日", "有权要求听证"),
        "decision": ("行政处罚决定书", PARTY_ID, "第七十七条", "第五十七条", "450,000.00",
                     "肆拾伍万元整", "（限15日内）", "2027年3月26日", area),
        "service_receipt": ("送达回证", f"行政处罚决定书（{decision['docNo']}）", "直接送达",
                            "2027年3月29日"),
        "closing_approval": ("结案审批表", "罚款已全额缴纳，违法建筑已自行拆除",
                             "立案时间2026年12月3日", f"决定书文号{decision['docNo']}",
                             "450,000.00"),
    }  # fmt: skip
    pdfs, texts = {}, {}
    for doc in story.docs:
        resp = await story.client.get(
            f"{API}{story.path}/documents/{doc['id']}/file", headers=story.who(Role.CAPTAIN)
        )
        assert resp.status_code == 200, resp.text
        assert hashlib.sha256(resp.content).hexdigest() == doc["sha256"]
        pdfs[doc["id"]] = resp.content
        text = texts[doc["id"]] = _text(resp.content)
        for phrase in (doc["docNo"], case_no, "张三", *says.get(doc["kind"], ())):
            assert phrase in text, f"{doc['kind']} {doc['docNo']}: {phrase} not in {text[:600]}"
        # the ID number is printed where the party is addressed, not in the approval forms
        assert doc["containsIdNumbers"] is (PARTY_ID in text), doc["kind"]
    for doc, asked in zip(story.of_kind("inquiry_record"), qa, strict=True):
        for item in asked:
            assert item["question"] in texts[doc["id"]] and item["answer"] in texts[doc["id"]]
    rights, hearing = (texts[d["id"]] for d in story.of_kind("hearing_notice"))
    assert "2026年12月14日" in rights and "肆拾伍万元整" in rights
    assert "听证定于2026-12-21在县自然资源局听证室举行" in hearing
    return pdfs


async def _check_joint_team(story: Story, pdfs: dict[str, bytes]) -> None:
    """The joint-team member reads the case without the party's number, not the decision."""
    joint = story.who(Role.JOINT_TEAM)
    seen = await story.client.get(f"{API}{story.path}", headers=joint)
    proc = await story.client.get(f"{API}{story.path}/procedure", headers=joint)
    for resp in (seen, proc):
        assert resp.status_code == 200, resp.text
        assert PARTY_ID not in resp.text
    [party] = proc.json()["penalty"]["parties"]
    assert (party["name"], party["idNo"], party["idMasked"]) == ("张三", MASKED, True)
    [decision] = story.of_kind("decision")
    url = f"{API}{story.path}/documents/{decision['id']}/file"
    refused = await story.client.get(url, headers=joint)
    assert (refused.status_code, refused.json()["code"]) == (403, "document_has_id_numbers")
    [filing] = story.of_kind("filing_approval")
    allowed = await story.client.get(f"{API}{story.path}/documents/{filing['id']}/file",
                                     headers=joint)  # fmt: skip
    assert allowed.status_code == 200 and allowed.content == pdfs[filing["id"]]


async def _check_custody(
    story: Story, factory: async_sessionmaker[AsyncSession], key: str, pdfs: dict[str, bytes]
) -> None:
    """Each document's generation and downloads in the county's chain, with the hash of the
    bytes downloaded; the chain intact."""
    county_id = story.county.county_id
    async with factory() as session:
        entries = (
            await session.scalars(
                select(CustodyEntry)
                .where(CustodyEntry.county_id == county_id,
                       CustodyEntry.subject_id.in_([uuid.UUID(d["id"]) for d in story.docs]))
                .order_by(CustodyEntry.seq)
            )
        ).all()  # fmt: skip
        chain = await CustodyLog(key.encode()).verify(session, county_id)
    assert chain.ok, chain.problems
    roles = {story.county.users[r].id: r for r in (Role.CAPTAIN, Role.JOINT_TEAM)}
    [filing] = story.of_kind("filing_approval")
    for doc in story.docs:
        mine = [e for e in entries if str(e.subject_id) == doc["id"]]
        expected = [("document_generated", Role.CAPTAIN), ("downloaded", Role.CAPTAIN)]
        if doc is filing:
            expected.append(("downloaded", Role.JOINT_TEAM))
        assert [(e.action, roles[e.actor_id]) for e in mine] == expected, doc["kind"]
        assert {e.details["sha256"] for e in mine} == {hashlib.sha256(pdfs[doc["id"]]).hexdigest()}
        assert mine[0].details["doc_no"] == doc["docNo"]
        assert mine[0].at == datetime.fromisoformat(doc["generatedAt"])


async def _check_case_file(
    story: Story, factory: async_sessionmaker[AsyncSession], tmp_path: Path,
    pdfs: dict[str, bytes], photo: tuple[str, bytes],
) -> None:  # fmt: skip
    """The 案卷: its order, verified with the published key, the cover, the catalogue, and
    the export in the custody chain at its time."""
    listing = await story.call(None, "GET", "/signing-keys")
    (tmp_path / "keys.json").write_text(json.dumps(listing))
    public_keys = load_public_keys(tmp_path / "keys.json")
    resp = await story.client.get(f"{API}{story.path}/case-file", headers=story.who(Role.CAPTAIN))
    assert resp.status_code == 200, resp.text[:500]
    zipped = tmp_path / "案卷.zip"
    zipped.write_bytes(resp.content)
    report = verify_package(zipped, public_keys=public_keys)
    assert report.ok, list(report.lines())
    photo_id, photo_bytes = photo
    with zipfile.ZipFile(zipped) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("manifest.json"))
        cover = _text(zf.read("01-卷宗封面.pdf"))
        catalogue = _text(zf.read("02-卷内目录.pdf"))
        evidence_list = _text(zf.read("04-证据清单.pdf"))
        filed = {n: zf.read(n) for n in names if n.startswith("03-文书/")}
        original = zf.read(f"05-证据原件/{photo_id}.jpg")
    in_order = [d for kind in ("filing_approval", "inspection_record", "inquiry_record",
                               "penalty_notice", "hearing_notice", "decision", "service_receipt",
                               "closing_approval") for d in story.of_kind(kind)]  # fmt: skip
    # cover, catalogue, the documents by stage, evidence list, originals, photos; signature
    assert names == [
        "01-卷宗封面.pdf",
        "02-卷内目录.pdf",
        *(f"03-文书/{n:02d}-{d['title']}-{d['docNo']}.pdf" for n, d in enumerate(in_order, 1)),
        "04-证据清单.pdf",
        f"05-证据原件/{photo_id}.jpg",
        f"06-现场照片/001-{photo_id}.jpg",
        "public-key.pem",
        "README.txt",
        "manifest.json",
        "manifest.sig",
        "manifest.sig.bin",
    ]
    # the documents are the ones downloaded, byte for byte; the original is the phone's
    assert list(filed.values()) == [pdfs[d["id"]] for d in in_order]
    assert original == photo_bytes
    case_no = manifest["case"]["case_no"]
    assert (manifest["case"]["status"], manifest["created_at"]) == (
        "closed", story.clock.now.isoformat(),
    )  # fmt: skip
    for phrase in (case_no, "当事人张三", "已结案", "立案日期2026-12-03"):
        assert phrase in cover, f"{phrase} not in the cover: {cover}"
    assert all(d["docNo"] in catalogue for d in in_order)
    assert "在建厂房东侧远景" in evidence_list
    assert hashlib.sha256(photo_bytes).hexdigest() in evidence_list
    async with factory() as session:
        exported = (
            await session.scalars(
                select(CustodyEntry).where(
                    CustodyEntry.county_id == story.county.county_id,
                    CustodyEntry.action == "exported",
                    CustodyEntry.details["case_file_id"].astext == manifest["case_file_id"],
                )
            )
        ).all()
    assert {(str(e.subject_id), e.details["path"]) for e in exported} == {
        (photo_id, f"05-证据原件/{photo_id}.jpg"),
        *((d["id"], name) for d, name in zip(in_order, filed, strict=True)),
    }
    assert {e.at for e in exported} == {story.clock.now}
    assert manifest["custody_head"]["seq"] == max(e.seq for e in exported)


# -- the story ----------------------------------------------------------------------------------
async def test_a_finding_becomes_a_case_decided_carried_out_closed_and_filed(
    keyed: tuple[Client, Settings],
    make_county: Any,
    fixed: Clock,
    session_factory: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    client, settings = keyed
    county: CountyFixture = await make_county()
    story = Story(client, county, fixed)
    call, step, document, deadline = story.call, story.step, story.document, story.deadline
    area_id = await _survey_and_area(story)
    found_at = _china(2026, 11, 18, 10)
    finding_id, photo, photo_id = await _finding(story, area_id, found_at)

    # -- Thursday 19 November: the captain opens the case from the finding -------------------
    case = await call(_china(2026, 11, 19, 9), "POST", "/cases", Role.CAPTAIN, {
        "cause": "张三未经批准占用耕地建设厂房", "violationKind": "land_occupation",
        "sourceKind": "finding", "sourceId": finding_id, "lon": PLOT[0], "lat": PLOT[1],
        "surveyedGeometry": OUTLINE, "parties": [{"name": "张三"}],
    })  # fmt: skip
    story.path = path = f"/cases/{case['id']}"
    assert (case["sourceKind"], case["sourceId"]) == ("finding", finding_id)
    assert case["evidenceIds"] == [photo_id]  # the finding's photo came with it
    area_m2 = Decimal(str(case["areas"]["totalM2"]))
    assert 3_800 < area_m2 < 4_000  # about 5.8 mu, all of it cultivated land
    assert case["areas"]["cultivatedM2"] == pytest.approx(float(area_m2), rel=1e-3)
    await call(None, "PUT", f"{path}/team", Role.CAPTAIN, {"members": [
        {"userId": str(county.users[Role.INSPECTOR].id), "roleInTeam": "lead"},
        {"userId": str(county.users[Role.JOINT_TEAM].id), "roleInTeam": "joint"},
    ]})  # fmt: skip

    # filing: ten working days from the finding (19, 20, 23, 24, 25, 26, 27, 30 Nov, 1, 2 Dec)
    filing = await deadline("filing")
    assert (filing["startsAt"], filing["dueAt"]) == (_wire(found_at), _wire(_china(2026, 12, 3)))
    # the admin marks Wednesday the 25th a county holiday: the tenth is Thursday 3 December
    await call(None, "POST", "/work-calendar", Role.ADMIN, {"day": "2026-11-25", "kind": "holiday"})
    filing_due = _china(2026, 12, 4)
    assert (await deadline("filing"))["dueAt"] == _wire(filing_due)
    # filed in the last instant of Thursday 3 December: on time; the form printed next morning
    await step(filing_due - TINY, "filing", approvalNo="东自然资立审〔2026〕35号")
    filing = await deadline("filing")
    assert (filing["doneAt"], filing["late"]) == (_wire(filing_due - TINY), False)
    await document(_china(2026, 12, 4, 8, 30), "filing_approval", "filing")

    # -- the investigation: the site, the builder, a witness ---------------------------------
    await step(_china(2026, 12, 4, 9), "investigation", Role.INSPECTOR,
               summary="现场勘验：耕地已推平，东侧在建厂房一栋，砖混结构，墙体砌筑过半",
               evidenceIds=[photo_id])  # fmt: skip
    await document(_china(2026, 12, 4, 10, 30), "inspection_record", "investigation")
    qa = [
        [{"question": "该厂房是否办理了用地审批手续？", "answer": "没有办理任何审批手续。"},
         {"question": "何时开始平整土地？", "answer": "2026年10月开始推平，11月开始砌墙。"}],
        [{"question": "你是否知道厂房由谁建设？", "answer": "是本村村民张三建的。"}],
    ]  # fmt: skip
    await step(_china(2026, 12, 4, 14), "investigation", Role.INSPECTOR, summary="询问当事人张三")
    await document(_china(2026, 12, 4, 16), "inquiry_record", "investigation", qa=qa[0])
    await step(_china(2026, 12, 5, 10), "investigation", Role.INSPECTOR, summary="询问证人李四")
    await document(_china(2026, 12, 5, 11), "inquiry_record", "investigation", qa=qa[1])
    # a notice cannot be written before the penalty is known; it takes no number
    early = await call(_china(2026, 12, 5, 11, 30), "POST", f"{path}/documents", Role.CAPTAIN,
                       {"kind": "penalty_notice"}, expect=409)  # fmt: skip
    assert (early["code"], early["details"]["missing"]) == ("document_not_ready", "penalty")

    # -- the penalty: the builder, the article, demolition and a fine per m² ----------------
    content: dict[str, Any] = {
        "parties": [{"name": "张三", "idNo": PARTY_ID, "address": "东风村三组"}],
        "violations": [{"article": "lal_77", "facts": "未经批准擅自占用耕地建设厂房"}],
        "measures": [{"kind": "demolish", "deadlineDays": 15}],
        "fines": [{"article": "lalr_57", "amountYuan": str(FINE)}],
    }
    fixed.now = _china(2026, 12, 7, 10)
    typo = {**content, "parties": [{"name": "张三", "idNo": PARTY_ID[:-1] + "2"}]}
    problem = await call(None, "PUT", f"{path}/penalty", Role.CAPTAIN, typo, expect=422)
    assert problem["code"] == "invalid_id_number"
    above = str(area_m2 * 1000 + Decimal("0.01"))  # a yuan per m² over the 1,000
    too_much = {**content, "fines": [{"article": "lalr_57", "amountYuan": above}]}
    problem = await call(None, "PUT", f"{path}/penalty", Role.CAPTAIN, too_much, expect=422)
    assert problem["code"] == "fine_out_of_range"
    assert (problem["details"]["min"], problem["details"]["max"]) == (
        f"{area_m2 * 100:.2f}", f"{area_m2 * 1000:.2f}",
    )  # fmt: skip
    penalty = await call(None, "PUT", f"{path}/penalty", Role.CAPTAIN, content)
    assert area_m2 * 100 <= Decimal(penalty["fineTotalYuan"]) == FINE <= area_m2 * 1000
    assert (penalty["hearingTriggered"], penalty["major"]) == (True, True)
    # a major case: reviewed and discussed before the notice
    await step(_china(2026, 12, 8, 10), "legal_review", opinion="事实清楚，证据确凿，适用依据正确")
    await step(_china(2026, 12, 8, 15), "collective_discussion", conclusion="同意拟处罚意见",
               participants=["局长", "分管副局长", "法规股长"])  # fmt: skip

    # -- the notice on Wednesday 9 December: the party's five days end with Monday the 14th ---
    notice_at = _china(2026, 12, 9, 10)
    await step(notice_at, "notice")
    for name in ("statement", "hearing_requested"):
        window = await deadline(name)
        assert (window["kind"], window["startsAt"], window["dueAt"]) == (
            "party", _wire(notice_at), _wire(_china(2026, 12, 15)),
        )  # fmt: skip
    await document(notice_at + timedelta(minutes=30), "penalty_notice", "notice")
    await document(notice_at + timedelta(minutes=40), "hearing_notice", "notice")
    await step(_china(2026, 12, 11, 15), "statement", Role.INSPECTOR,
               summary="当事人辩称厂房用于村集体产业，但未提供批准文件")  # fmt: skip
    hearing_asked = _china(2026, 12, 12, 10)
    await step(hearing_asked, "hearing_requested", Role.INSPECTOR)
    for name in ("statement", "hearing_requested"):
        assert (await deadline(name))["late"] is False
    # the hearing: notified on the 14th, so held on the 21st at the earliest
    notified = _china(2026, 12, 14, 9)
    short = await story.refused(notified, "hearing_notified", 422, "hearing_notice_too_short",
                                hearingOn="2026-12-20", place="县自然资源局听证室")  # fmt: skip
    assert short["details"]["earliest"] == "2026-12-21"
    await step(notified, "hearing_notified", hearingOn="2026-12-21", place="县自然资源局听证室")
    await document(notified + timedelta(minutes=30), "hearing_notice", "hearing_notified")
    held = _china(2026, 12, 21, 9, 30)
    await step(held, "hearing_held", Role.INSPECTOR, summary="当事人到场陈述申辩，未提出新证据")

    # -- the 90 days: filed on 3 December, they end with 3 March; the hearing does not count -
    ninety, hearing = _china(2027, 3, 4), held - hearing_asked  # 8 days 23.5 hours
    decision = await deadline("decision")
    assert (decision["startsAt"], decision["daysAllowed"]) == (_wire(filing_due - TINY), 90)
    assert decision["dueAt"] == _wire(ninety + hearing)
    # an appraisal of the occupied land from 22 December to 5 January: two weeks more
    await step(_china(2026, 12, 22, 10), "clock_pause", Role.INSPECTOR, reasonKind="appraisal",
               reason="委托测绘机构鉴定占地面积和地类")  # fmt: skip
    fixed.now = _china(2026, 12, 28, 9)
    assert (await call(None, "GET", f"{path}/procedure"))["pausedFor"] == "appraisal"
    await step(_china(2027, 1, 5, 10), "clock_resume", Role.INSPECTOR)
    decision = await deadline("decision")
    decision_due = ninety + hearing + timedelta(days=14)
    assert decision["dueAt"] == _wire(decision_due) == _wire(_china(2027, 3, 26, 23, 30))
    assert decision["daysPaused"] == round((hearing + timedelta(days=14)) / timedelta(days=1), 1)

    # -- the decision in the last instant of its limit, served, carried out, closed ----------
    await step(decision_due - TINY, "decision", option="penalty")
    decision = await deadline("decision")
    assert (decision["late"], decision["daysCounted"]) == (False, 90.0)
    assert (await call(None, "GET", path))["status"] == "decided"
    await document(decision_due - TINY, "decision", "decision")
    served = _china(2027, 3, 29, 10)
    assert (await deadline("service"))["dueAt"] == _wire(_china(2027, 4, 3))
    await step(served, "service", Role.INSPECTOR, method="direct")
    assert (await deadline("service"))["late"] is False
    await document(served + timedelta(minutes=30), "service_receipt", "service")
    await step(_china(2027, 4, 2, 10), "execution", Role.INSPECTOR, paidYuan=str(FINE))
    # the party has 15 days from service to sue: the court is asked too early on the 13th
    window = await deadline("court_enforcement")
    assert (window["kind"], window["dueAt"]) == ("waiting", _wire(_china(2027, 4, 14)))
    early = await story.refused(_china(2027, 4, 13, 9), "court_enforcement", 409,
                                "enforcement_too_early", court="县人民法院")  # fmt: skip
    assert early["details"]["earliest"] == "2027-04-14 00:00"
    await step(_china(2027, 4, 13, 17), "execution", Role.INSPECTOR, demolishedM2=1200.0)
    closing_at = _china(2027, 4, 20, 10)
    await step(closing_at, "closing", summary="罚款已全额缴纳，违法建筑已自行拆除")
    assert (await call(None, "GET", path))["status"] == "closed"
    await document(closing_at + timedelta(minutes=30), "closing_approval", "closing")

    # -- the documents, the joint team, the custody chain, the 案卷 --------------------------
    _check_numbers(story)
    pdfs = await _check_documents(story, case["caseNo"], area_m2, qa)
    linked = {s["id"]: s["documentId"] for s in await call(None, "GET", f"{path}/steps")}
    for step_kind, kind in (("decision", "decision"), ("service", "service_receipt"),
                            ("closing", "closing_approval")):  # fmt: skip
        assert linked[story.steps[step_kind]] == story.of_kind(kind)[0]["id"]
    fixed.now = _china(2027, 4, 20, 10, 45)
    await _check_joint_team(story, pdfs)
    await _check_custody(story, session_factory, settings.evidence.package_signing_key, pdfs)
    fixed.now = _china(2027, 4, 20, 11)
    await _check_case_file(story, session_factory, tmp_path, pdfs, (photo_id, photo))
