"""Case documents: every kind rendered with the case's facts (read back from the PDF), numbers
without gaps under concurrency, the stored PDF's hash in the custody chain, the step's
document, scans, who may download what, and the refusals."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pypdf
import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.cases.document_models import CaseDocument
from evidence.cases.document_templates import yuan_capitals
from evidence.cases.documents import DocumentInput, DocumentService
from evidence.models import CustodyEntry
from infra.objectstore import S3ObjectStore
from infra.scope import Role
from infra.settings import Settings
from tests import clock
from tests.procedure.conftest import Flow

T0 = clock.NOW  # 2026-11-18 10:00 in China
PERSON_ID = "11010519491231002X"
FINE = Decimal(500_000)
API = "/api/v1"


def text_of(pdf: bytes) -> str:
    """The PDF's text with every space and line break taken out (lines wrap anywhere)."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))


async def generate(
    flow: Flow, case_id: str, kind: str, role: Role = Role.CAPTAIN, *, expect: int = 201,
    **body: Any,
) -> Any:  # fmt: skip
    return await flow.call(
        "POST", f"/cases/{case_id}/documents", role, {"kind": kind, **body}, expect=expect
    )


async def pdf_of(flow: Flow, case_id: str, doc: dict[str, Any], role: Role = Role.CAPTAIN) -> Any:
    return await flow.client.get(
        f"{API}/cases/{case_id}/documents/{doc['id']}/file", headers=flow.county.headers(role)
    )


async def decided_case(
    flow: Flow, *, decision_no: str = "宁罚〔2026〕1号", **extra: Any
) -> tuple[str, dict[str, str]]:
    """A case walked from filing to closing (major: legal review and collective discussion
    first), with the penalty of a 500,000 yuan fine, returning land and restoring farmland;
    its id and the ids of its steps by kind (``decision_no``: the number the decision step
    is given; ``extra``: more of the case's body)."""
    case_id = await flow.open_case(cause="未经批准占用耕地建设厂房", **extra)
    steps: dict[str, str] = {}

    async def step(kind: str, when: Any, role: Role = Role.CAPTAIN, **body: Any) -> None:
        steps[kind] = (await flow.step(case_id, kind, when, role, **body))["id"]

    await step("filing", T0, approvalNo="立审〔2026〕8号")
    await step(
        "investigation", T0 + timedelta(hours=1), Role.INSPECTOR, summary="现场勘验，厂房已建成"
    )
    area = Decimal(str((await flow.call("GET", f"/cases/{case_id}"))["areas"]["totalM2"]))
    assert area * 100 <= FINE <= area * 1000, area
    content = {
        "parties": [{"name": "张三", "idNo": PERSON_ID, "address": "东风村三组"}],
        "violations": [{"article": "lal_77", "facts": "未经批准占用耕地建设厂房"}],
        "measures": [
            {"kind": "return_land", "deadlineDays": 15},
            {"kind": "restore_farmland", "deadlineDays": 30},
        ],
        "fines": [{"article": "lalr_57", "amountYuan": str(FINE)}],
    }
    await flow.penalty(case_id, content)
    await step("legal_review", T0 + timedelta(hours=2), opinion="事实清楚，依据正确")
    await step("collective_discussion", T0 + timedelta(hours=3), conclusion="同意处罚")
    await step("notice", T0 + timedelta(days=1))  # 2026-11-19: the party's 5 days to 11-24
    await step("statement", T0 + timedelta(days=1, hours=1), Role.INSPECTOR, waived=True)
    await step("decision", T0 + timedelta(days=7), option="penalty", decisionNo=decision_no)
    await step("service", T0 + timedelta(days=7, hours=1), Role.INSPECTOR, method="direct")
    await step(
        "execution", T0 + timedelta(days=8), Role.INSPECTOR, paidYuan=str(FINE),
        landReturned=True, rightHolderConfirmed=True, farmlandRestoredM2=100.0,
    )  # fmt: skip
    await step("closing", T0 + timedelta(days=9), summary="罚款已缴清，土地已退还并复垦")
    return case_id, steps


# kind -> (the step it belongs to, what its text must say besides number, case and party)
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "filing_approval": ("filing", ("立案审批表", "未经批准占用耕地建设厂房")),
    "stop_order": ("investigation", ("责令停止违法行为通知书", "立即停止", "第七十七条")),
    "inspection_record": ("investigation", ("现场勘验（检查）笔录", "现场勘验，厂房已建成")),
    "penalty_notice": (
        "notice",
        (
            "行政处罚告知书",
            "500,000.00",
            "伍拾万元整",
            "2026年11月24日",
            "第七十七条",
            "第五十七条",
        ),
    ),
    "hearing_notice": ("notice", ("听证告知书", "伍拾万元整", "2026年11月24日")),
    "decision": (
        "decision",
        ("行政处罚决定书", "500,000.00", "伍拾万元整", "限15日内", "限30日内", "2026年11月25日"),
    ),
    "service_receipt": ("service", ("送达回证", "行政处罚决定书", "直接送达", "2026年11月25日")),
    "closing_approval": ("closing", ("结案审批表", "罚款已缴清", "宁罚〔2026〕1号")),
}


async def test_each_document_states_the_case_and_is_in_custody_with_its_hash(
    flow: Flow, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    case_id, steps = await decided_case(flow)
    flow.clock.now = T0 + timedelta(days=9, hours=1)
    case_no = (await flow.call("GET", f"/cases/{case_id}"))["caseNo"]
    made: dict[str, dict[str, Any]] = {}
    for kind in ("filing_approval", "stop_order", "inspection_record", "penalty_notice",
                 "hearing_notice", "decision", "service_receipt", "closing_approval"):  # fmt: skip
        step, phrases = KINDS[kind]
        doc = await generate(flow, case_id, kind, stepId=steps[step])
        made[kind] = doc
        resp = await pdf_of(flow, case_id, doc)
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"].startswith("application/pdf")
        assert hashlib.sha256(resp.content).hexdigest() == doc["sha256"]
        text = text_of(resp.content)
        for phrase in (doc["docNo"], case_no, "张三", *phrases):
            assert phrase.replace(" ", "") in text, f"{kind}: {phrase} not in {text[:400]}"
        assert doc["stepId"] == steps[step]
    # numbers: the county's short name, the kind's mark, the year, the first of its kind
    assert re.fullmatch(r".+自然资罚〔2026〕1号", made["decision"]["docNo"])
    assert made["decision"]["facts"]["fine_total_capitals"] == "伍拾万元整"
    assert made["decision"]["facts"]["fine_total_yuan"] == "500000.00"
    assert made["penalty_notice"]["facts"]["deadlines"]["statement"] == "2026-11-24"
    # the ID number is printed where the party is addressed, not in the approval forms
    decision_text = text_of((await pdf_of(flow, case_id, made["decision"])).content)
    assert PERSON_ID in decision_text
    assert made["decision"]["containsIdNumbers"] is True
    assert made["filing_approval"]["containsIdNumbers"] is False
    # the steps carry their documents
    listed = {s["id"]: s for s in await flow.call("GET", f"/cases/{case_id}/steps")}
    assert listed[steps["decision"]]["documentId"] == made["decision"]["id"]
    assert listed[steps["filing"]]["documentId"] == made["filing_approval"]["id"]
    # the custody chain holds the hash of the stored bytes, and each download
    async with session_factory() as session:
        entries = (
            await session.scalars(
                select(CustodyEntry)
                .where(CustodyEntry.subject_id == uuid.UUID(made["decision"]["id"]))
                .order_by(CustodyEntry.seq)
            )
        ).all()
    assert [e.action for e in entries] == ["document_generated", "downloaded", "downloaded"]
    assert entries[0].details["sha256"] == made["decision"]["sha256"]
    assert entries[0].details["doc_no"] == made["decision"]["docNo"]
    # the list is in the case file's order, by stage
    kinds = [d["kind"] for d in await flow.call("GET", f"/cases/{case_id}/documents")]
    assert kinds == [
        "filing_approval", "stop_order", "inspection_record", "penalty_notice",
        "hearing_notice", "decision", "service_receipt", "closing_approval",
    ]  # fmt: skip


async def test_the_closing_approval_names_the_decision_documents_number(flow: Flow) -> None:
    # the decision step was recorded without a number: the closing approval states the
    # number the decision document got, not a dash
    case_id, steps = await decided_case(flow, decision_no="")
    flow.clock.now = T0 + timedelta(days=9, hours=1)
    decision = await generate(flow, case_id, "decision", stepId=steps["decision"])
    closing = await generate(flow, case_id, "closing_approval", stepId=steps["closing"])
    text = text_of((await pdf_of(flow, case_id, closing)).content)
    assert f"决定书文号{decision['docNo']}" in text


async def test_an_inquiry_record_writes_down_its_questions_and_answers(flow: Flow) -> None:
    case_id = await flow.open_case()
    step = await flow.step(case_id, "filing", T0)
    flow.clock.now = T0 + timedelta(hours=1)
    qa = [
        {"question": "你在此处建房是否经过批准？", "answer": "没有办理任何审批手续。"},
        {"question": "房屋何时开工？<script>", "answer": "2026年9月开工，现已封顶。"},
    ]
    doc = await generate(flow, case_id, "inquiry_record", qa=qa)
    text = text_of((await pdf_of(flow, case_id, doc)).content)
    for item in qa:
        assert item["question"] in text and item["answer"] in text
    assert doc["stepId"] is None  # linked only when a step is named
    # questions belong to an inquiry record only; a step of another kind is refused
    wrong = await generate(flow, case_id, "filing_approval", qa=qa, expect=422)
    assert wrong["code"] == "invalid_case_document"
    bare = await generate(flow, case_id, "inquiry_record", expect=422)
    assert bare["code"] == "invalid_case_document"
    other = await generate(flow, case_id, "decision", stepId=step["id"], expect=422)
    assert other["code"] == "invalid_case_document"
    assert other["details"]["allowedSteps"] == ["decision"]


async def test_documents_that_state_the_penalty_wait_for_it(flow: Flow) -> None:
    case_id = await flow.open_case()
    await flow.step(case_id, "filing", T0)
    for kind, missing in (("penalty_notice", "penalty"), ("decision", "penalty"),
                          ("referral_letter", "referral"),
                          ("service_receipt", "decision_document")):  # fmt: skip
        problem = await generate(flow, case_id, kind, expect=409)
        assert (problem["code"], problem["details"]["missing"]) == ("document_not_ready", missing)
    small = {
        "parties": [{"name": "李四"}],
        "violations": [{"article": "lal_77", "facts": "占地"}],
        "measures": [{"kind": "return_land", "deadlineDays": 10}],
    }
    await flow.penalty(case_id, small)  # no fine, no demolition: no right to a hearing
    problem = await generate(flow, case_id, "hearing_notice", expect=409)
    assert problem["details"]["missing"] == "hearing_rights"
    # nothing was numbered by the refusals: the first notice is number 1
    notice = await generate(flow, case_id, "penalty_notice")
    assert notice["docNo"].endswith("〔2026〕1号")


async def test_who_generates_reads_and_downloads(flow: Flow) -> None:
    case_id, steps = await decided_case(flow)
    decision = await generate(flow, case_id, "decision", stepId=steps["decision"])
    filing = await generate(flow, case_id, "filing_approval")
    for role in (Role.INSPECTOR, Role.JOINT_TEAM, Role.SECURITY_SQUAD, Role.CLUE_DESK):
        refused = await generate(flow, case_id, "filing_approval", role, expect=403)
        assert refused["code"] == "role_not_allowed"
    # the joint-team member reads the case's documents but never a party's ID number
    joint = await pdf_of(flow, case_id, decision, Role.JOINT_TEAM)
    assert joint.status_code == 403
    assert joint.json()["code"] == "document_has_id_numbers"
    assert (await pdf_of(flow, case_id, filing, Role.JOINT_TEAM)).status_code == 200
    assert (await pdf_of(flow, case_id, decision, Role.INSPECTOR)).status_code == 200
    meta = await flow.call("GET", f"/cases/{case_id}/documents/{decision['id']}", Role.JOINT_TEAM)
    assert meta["containsIdNumbers"] is True
    missing = await flow.call("GET", f"/cases/{case_id}/documents/{uuid.uuid4()}", expect=404)
    assert missing["code"] == "case_document_not_found"
    desk = await flow.call("GET", f"/cases/{case_id}/documents", Role.CLUE_DESK, expect=404)
    assert desk["code"] == "case_not_found"


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


async def test_a_signed_scan_is_attached_hashed_and_in_custody(
    flow: Flow, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    case_id = await flow.open_case()
    await flow.step(case_id, "filing", T0)
    doc = await generate(flow, case_id, "filing_approval")
    url = f"{API}/cases/{case_id}/documents/{doc['id']}/scans"
    headers = flow.county.headers(Role.CAPTAIN)
    scan = _jpeg()
    resp = await flow.client.post(url, files={"file": ("签章.jpg", scan, "image/jpeg")},
                                  headers=headers)  # fmt: skip
    assert resp.status_code == 201, resp.text
    [attached] = resp.json()["scans"]
    assert attached["sha256"] == hashlib.sha256(scan).hexdigest()
    assert (attached["mediaType"], attached["sizeBytes"]) == ("image/jpeg", len(scan))
    async with session_factory() as session:
        actions = (
            await session.scalars(
                select(CustodyEntry.action).where(CustodyEntry.subject_id == uuid.UUID(doc["id"]))
            )
        ).all()
    assert "document_scan_attached" in actions
    for data in (b"not a scan at all", b"%PDF-" + bytes(20 * 1024 * 1024)):
        bad = await flow.client.post(url, files={"file": ("x.pdf", data, "application/pdf")},
                                     headers=headers)  # fmt: skip
        assert bad.status_code == 422, bad.text
        assert bad.json()["code"] == "invalid_document_scan"
    inspector = await flow.client.post(
        url, files={"file": ("a.jpg", scan, "image/jpeg")},
        headers=flow.county.headers(Role.INSPECTOR),
    )  # fmt: skip
    assert inspector.json()["code"] == "role_not_allowed"


async def test_numbers_have_no_gaps_under_concurrency(
    make_county: Any,
    session_factory: async_sessionmaker[AsyncSession],
    store: S3ObjectStore,
    settings: Settings,
    flow: Flow,
) -> None:
    case_id = uuid.UUID(await flow.open_case())
    captain = flow.county.principal(Role.CAPTAIN)

    async def one(*, fail: bool = False) -> str:
        async with session_factory() as session:
            service = DocumentService(
                session, store, custody_key="k", procedure=settings.procedure,
                clock=lambda: T0,
            )  # fmt: skip
            view = await service.generate(captain, case_id, DocumentInput("stop_order"))
            if fail:
                await session.rollback()  # the number goes back
                return ""
            await session.commit()
            return view.doc_no

    numbers = await asyncio.gather(*(one(fail=n == 3) for n in range(8)))
    seqs = sorted(int(re.search(r"〔2026〕(\d+)号", n).group(1)) for n in numbers if n)  # type: ignore[union-attr]
    assert seqs == list(range(1, 8))
    async with session_factory() as session:
        stored = (
            await session.scalars(select(CaseDocument.seq).where(CaseDocument.case_id == case_id))
        ).all()
    assert sorted(stored) == list(range(1, 8))


def test_capital_numerals() -> None:
    cases = {
        "150000": "壹拾伍万元整",
        "100500.05": "壹拾万零伍佰元零伍分",
        "1001000": "壹佰万壹仟元整",
        "10010": "壹万零壹拾元整",
        "0.5": "伍角",
        "123456789.12": "壹亿贰仟叁佰肆拾伍万陆仟柒佰捌拾玖元壹角贰分",
        "100000001": "壹亿零壹元整",
    }
    assert {k: yuan_capitals(Decimal(k)) for k in cases} == cases
    with pytest.raises(ValueError, match="negative"):
        yuan_capitals(Decimal(-1))
