"""The 案卷 export (order, catalogue, captioned photos, signature, a changed original) and the
referral letter in the referral package."""

from __future__ import annotations

import hashlib
import io
import json
import os
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pypdf
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.cases.package import LETTER, verify_package
from evidence.models import Derivative
from infra.ids import uuid7
from infra.objectstore import S3ObjectStore
from infra.scope import Role
from tests.cases.conftest import add_evidence
from tests.documents.conftest import Keyed
from tests.documents.test_documents import API, T0, decided_case, generate, text_of
from tests.procedure.conftest import Flow

PHOTO_A = b"\xff\xd8\xff\xe0" + os.urandom(200_000) + b"\xff\xd9"
PHOTO_B = b"\xff\xd8\xff\xe1" + os.urandom(300_000) + b"\xff\xd9"
CAPTIONED = b"\xff\xd8\xff\xe0captioned copy" + os.urandom(1000) + b"\xff\xd9"


async def _evidence(
    flow: Flow, factory: async_sessionmaker[AsyncSession], store: S3ObjectStore
) -> tuple[uuid.UUID, uuid.UUID]:
    """Two photos of the inspector; the first has a captioned copy."""
    owner = flow.county.principal(Role.INSPECTOR)
    async with factory() as db:
        a = await add_evidence(db, store, owner, PHOTO_A, caption="远景")
        b = await add_evidence(db, store, owner, PHOTO_B, caption="近景")
        key = f"derivatives/{owner.county_id}/{a}/captioned.jpg"
        await store.put_bytes(key, CAPTIONED, content_type="image/jpeg")
        db.add(
            Derivative(
                id=uuid7(), county_id=owner.county_id, evidence_id=a, kind="captioned",
                object_key=key, content_type="image/jpeg", size_bytes=len(CAPTIONED),
                sha256=hashlib.sha256(CAPTIONED).hexdigest(), width=10, height=10,
            )
        )  # fmt: skip
        await db.commit()
    return a, b


async def _link(flow: Flow, case_id: str, ids: tuple[uuid.UUID, ...]) -> None:
    body = {"evidenceIds": [str(i) for i in ids]}
    await flow.call("POST", f"/cases/{case_id}/evidence", Role.CAPTAIN, body)


def _save(resp: Any, path: Path) -> Path:
    assert resp.status_code == 200, resp.text[:500]
    path.write_bytes(resp.content)
    return path


async def test_the_case_file_comes_in_order_signed_and_verifiable(
    flow: Flow,
    keyed: Keyed,
    session_factory: async_sessionmaker[AsyncSession],
    store: S3ObjectStore,
    tmp_path: Path,
) -> None:
    a, b = await _evidence(flow, session_factory, store)
    case_id, steps = await decided_case(flow, evidenceIds=[str(a), str(b)])
    flow.clock.now = T0 + timedelta(days=9, hours=2)
    closing = await generate(flow, case_id, "closing_approval", stepId=steps["closing"])
    decision = await generate(flow, case_id, "decision", stepId=steps["decision"])
    filing = await generate(flow, case_id, "filing_approval", stepId=steps["filing"])
    scan = b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n2 0 obj << /Type /Page >> endobj\n"
    resp = await flow.client.post(
        f"{API}/cases/{case_id}/documents/{decision['id']}/scans",
        files={"file": ("decision.pdf", scan, "application/pdf")},
        headers=flow.county.headers(Role.CAPTAIN),
    )
    assert resp.status_code == 201, resp.text
    url = f"{API}/cases/{case_id}/case-file"
    for role in (Role.INSPECTOR, Role.JOINT_TEAM, Role.SECURITY_SQUAD):
        refused = await flow.client.get(url, headers=flow.county.headers(role))
        assert refused.json()["code"] == "role_not_allowed"
    path = _save(
        await flow.client.get(url, headers=flow.county.headers(Role.CAPTAIN)), tmp_path / "f.zip"
    )
    report = verify_package(path, public_keys=keyed.keys.public_keys())
    assert report.ok, list(report.lines())
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("manifest.json"))
        catalogue = text_of(zf.read("02-卷内目录.pdf"))
        cover = text_of(zf.read("01-卷宗封面.pdf"))
        photo_a = zf.read(f"06-现场照片/001-{a}.jpg")
        photo_b = zf.read(f"06-现场照片/002-{b}.jpg")
        original_a = zf.read(f"05-证据原件/{a}.jpg")
        listing = text_of(zf.read("04-证据清单.pdf"))
    # the order the inspection rules expect: cover, catalogue, documents by stage (each
    # followed by its scans), evidence list, originals, photos; then the signature's files
    assert names == [
        "01-卷宗封面.pdf",
        "02-卷内目录.pdf",
        f"03-文书/01-立案审批表-{filing['docNo']}.pdf",
        f"03-文书/02-行政处罚决定书-{decision['docNo']}.pdf",
        "03-文书/02-行政处罚决定书-扫描件-1.pdf",
        f"03-文书/03-结案审批表-{closing['docNo']}.pdf",
        "04-证据清单.pdf",
        f"05-证据原件/{a}.jpg",
        f"05-证据原件/{b}.jpg",
        f"06-现场照片/001-{a}.jpg",
        f"06-现场照片/002-{b}.jpg",
        "public-key.pem",
        "README.txt",
        "manifest.json",
        "manifest.sig",
        "manifest.sig.bin",
    ]
    assert [f["path"] for f in manifest["files"]] == names[:-3]
    # the cover names the party of the penalty (the case was opened without one) and dates
    # the filing by its step (18 November), not by when its form was printed
    assert "当事人张三" in cover
    assert "立案日期2026-11-18" in cover
    # exported at the app's clock (the manifest's time is the export custody entries')
    assert manifest["created_at"] == flow.clock.now.isoformat()
    # photos with captions: the captioned copy where one was made, else the original
    assert (photo_a, photo_b, original_a) == (CAPTIONED, PHOTO_B, PHOTO_A)
    # the catalogue names each document with its number and pages; the scan has 2 pages
    for title in ("立案审批表", "行政处罚决定书", "签章扫描件", "结案审批表", "证据清单"):
        assert title in catalogue
    assert decision["docNo"] in catalogue
    scan_line = next(c for c in manifest["catalogue"] if "扫描件" in c["title"])
    assert scan_line["pages"] == 2
    assert "远景" in listing and "近景" in listing


async def test_a_changed_original_stops_the_case_file(
    flow: Flow,
    keyed: Keyed,
    session_factory: async_sessionmaker[AsyncSession],
    store: S3ObjectStore,
) -> None:
    case_id = await flow.open_case()
    a, b = await _evidence(flow, session_factory, store)
    await _link(flow, case_id, (a, b))
    owner = flow.county.principal(Role.INSPECTOR)
    await store.put_bytes(f"originals/{owner.county_id}/{b}.jpg", b"\xff\xd8changed",
                          content_type="image/jpeg")  # fmt: skip
    url = f"{API}/cases/{case_id}/case-file"
    resp = await flow.client.get(url, headers=flow.county.headers(Role.CAPTAIN))
    # the stream stops before the changed original ends: no whole, valid ZIP arrives
    assert resp.status_code != 200 or not zipfile.is_zipfile(io.BytesIO(resp.content))


async def test_the_referral_package_carries_the_referral_letter(
    flow: Flow,
    keyed: Keyed,
    session_factory: async_sessionmaker[AsyncSession],
    store: S3ObjectStore,
    tmp_path: Path,
) -> None:
    case_id = await flow.open_case()
    a, b = await _evidence(flow, session_factory, store)
    await _link(flow, case_id, (a, b))
    await flow.call("POST", "/referral-flags", body={"caseId": case_id, "reason": "涉嫌犯罪"})
    team = [str(flow.county.users[r].id) for r in (Role.SECURITY_SQUAD, Role.CAPTAIN)]
    report = "经核实，占用耕地六亩，涉嫌非法占用农用地罪"
    referral = await flow.call(
        "POST", f"/cases/{case_id}/referrals", Role.SECURITY_SQUAD,
        {"teamIds": team, "report": report},
    )  # fmt: skip
    url = f"{API}/cases/{case_id}/package?referral_id={referral['id']}"
    resp = await flow.client.post(url, headers=flow.county.headers(Role.SECURITY_SQUAD))
    path = _save(resp, tmp_path / "p.zip")
    assert verify_package(path, public_keys=keyed.keys.public_keys()).ok
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        letter = zf.read(LETTER)
    assert LETTER in [f["path"] for f in manifest["files"]]
    text = text_of(letter)
    assert "涉嫌犯罪案件移送书" in text and report in text
    assert manifest["referral_letter"]["doc_no"] in text
    assert manifest["referral_letter"]["sha256"] == hashlib.sha256(letter).hexdigest()
    # it stays among the case's documents, and a second export carries the same letter
    docs = await flow.call("GET", f"/cases/{case_id}/documents", Role.SECURITY_SQUAD)
    assert [d["kind"] for d in docs] == ["referral_letter"]
    again = _save(
        await flow.client.post(url, headers=flow.county.headers(Role.SECURITY_SQUAD)),
        tmp_path / "q.zip",
    )
    with zipfile.ZipFile(again) as zf:
        assert zf.read(LETTER) == letter
    assert len(pypdf.PdfReader(io.BytesIO(letter)).pages) >= 1
