"""The case file (案卷) as one signed ZIP, in the order the file inspection rules expect.

Layout (stored ZIP, streamed; names in Chinese, UTF-8)::

    01-卷宗封面.pdf                      cover: case number, cause, parties, dates, officers
    02-卷内目录.pdf                      catalogue: every item below with its pages
    03-文书/NN-<文书名称>-<文号>.pdf       the documents, by stage (立案 … 结案), each followed by
    03-文书/NN-<文书名称>-扫描件-M.<ext>   its signed/stamped scans
    04-证据清单.pdf                      the evidence list: caption, object proved, time, place,
                                         producer, SHA-256
    05-证据原件/<evidence id>.<ext>       the originals, byte for byte (hash checked while
                                         streaming)
    06-现场照片/NNN-<evidence id>.jpg     the photos with their caption burnt in (the evidence's
                                         ``captioned`` derivative; the original when none)
    public-key.pem, README.txt          the signer's public key; how to verify
    manifest.json, manifest.sig, manifest.sig.bin   as in a referral package

The manifest lists every file in this order with its SHA-256 and size and is signed with the
package key pair (:mod:`evidence.cases.signed_zip`), so ``patrol package verify`` and
:func:`evidence.cases.package.verify_package` check a case file like a referral package.
Every database read and write (the custody entries of the export: ``exported`` for each
evidence and each document; the ``case_file_exported`` event) happens before the first
byte; the stream then reads the object store only.
"""

from __future__ import annotations

import asyncio
import html
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.cases import case_evidence_ids, load_case, record_event
from evidence.cases.document_models import CaseDocument, DocumentKind, DocumentScan
from evidence.cases.document_templates import TITLES
from evidence.cases.documents import case_documents, parties_of
from evidence.cases.errors import PackageSigningKeyMissingError
from evidence.cases.models import Case
from evidence.cases.package_keys import ALGORITHM, PackageKeyring
from evidence.cases.procedure_models import CasePenalty, CaseStep, StepKind
from evidence.cases.signed_zip import (
    CHUNK,
    PUBLIC_KEY,
    StreamedZip,
    ZipEntry,
    data_entry,
    signed_entries,
)
from evidence.custody import CustodyAction, CustodyLog, chain_head
from evidence.models import Derivative, Evidence, Upload
from infra.documents import LayoutProcess
from infra.ids import uuid7
from infra.objectstore import ObjectStore
from infra.scope import COUNTY_TZ, Principal, Role, require_role
from patrol.models import County, User

__all__ = ["FORMAT", "CaseFile", "export_case_file"]

FORMAT = "patrol-case-file/1"
_EXPORTERS = (Role.CAPTAIN, Role.ADMIN)
_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/heic": "heic", "video/mp4": "mp4",
        "video/quicktime": "mov", "application/pdf": "pdf"}  # fmt: skip
_STATUS = {
    "clue": "线索", "filed": "已立案", "investigating": "调查取证", "decided": "已作出决定",
    "executing": "执行中", "closed": "已结案", "suspended": "中止", "terminated": "终止",
    "withdrawn": "已撤销", "referred": "已移送公安",
}  # fmt: skip
_CSS = """
table.cat td, table.cat th { font-size: 10pt; }
.cover { text-align: center; margin-top: 30mm; }
.cover h1 { font-size: 26pt; margin-bottom: 20mm; }
.cover table { width: 80%; margin: 0 auto; }
.hash { font-size: 7pt; }  /* no monospace face: a second font cost 20 MiB of layout */
.ev { margin: 0 0 2mm; font-size: 9.5pt; line-height: 1.4; break-inside: avoid; }
.ev p { margin: 0; }
"""


@dataclass(slots=True)
class CaseFile(StreamedZip):
    """An export ready to stream (``async for chunk in case_file``), exactly once."""

    file_id: uuid.UUID
    case_id: uuid.UUID
    case_no: str
    file_name: str
    created_at: datetime
    manifest: dict[str, Any]
    manifest_bytes: bytes
    signature: str
    key_id: str
    _entries: list[ZipEntry]
    _store: ObjectStore
    _chunk_size: int = CHUNK


@dataclass(frozen=True, slots=True)
class _Item:
    evidence: Evidence
    upload: Upload
    producer: str
    captioned: Derivative | None


@dataclass(frozen=True, slots=True)
class _Line:
    """One line of the catalogue."""

    title: str
    doc_no: str
    day: str
    pages: int
    path: str


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _day(at: datetime | None) -> str:
    return "" if at is None else at.astimezone(COUNTY_TZ).strftime("%Y-%m-%d")


async def _items(session: AsyncSession, case: Case) -> list[_Item]:
    ids = await case_evidence_ids(session, case)
    if not ids:
        return []
    rows = (
        await session.execute(
            select(Evidence, Upload, User.display_name)
            .join(Upload, Upload.id == Evidence.id)
            .outerjoin(User, User.id == Upload.uploader_id)
            .where(Evidence.id.in_(ids), Evidence.county_id == case.county_id)
        )
    ).all()
    captioned = {
        d.evidence_id: d
        for d in (
            await session.scalars(
                select(Derivative).where(
                    Derivative.evidence_id.in_(ids), Derivative.kind == "captioned"
                )
            )
        ).all()
    }
    by_id = {ev.id: _Item(ev, up, str(name or ""), captioned.get(ev.id)) for ev, up, name in rows}
    return [by_id[i] for i in ids if i in by_id]


async def _filed_at(session: AsyncSession, case: Case) -> datetime | None:
    """When the case was filed (立案): its filing step's time, not when a form was printed."""
    return await session.scalar(
        select(CaseStep.at)
        .where(CaseStep.case_id == case.id, CaseStep.kind == StepKind.FILING.value)
        .order_by(CaseStep.seq)
        .limit(1)
    )


def _cover(case: Case, county: County, parties: str, officers: str, filed: str) -> str:
    rows = "".join(
        f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>"
        for k, v in (
            ("案件编号", case.case_no),
            ("案由", case.cause),
            ("当事人", parties or "—"),
            ("立案日期", filed or "—"),
            ("案件状态", _STATUS.get(case.status, case.status)),
            ("承办人", officers or "—"),
            ("保管期限", "长期"),
        )
    )
    return (
        f'<div class="cover"><div class="bureau">{_e(county.name)}自然资源局</div>'
        f"<h1>行政处罚案卷</h1><table>{rows}</table></div>"
    )


def _catalogue(lines: Sequence[_Line], first_page: int) -> str:
    rows, page = [], first_page
    for n, line in enumerate(lines, start=1):
        span = f"{page}" if line.pages == 1 else f"{page}-{page + line.pages - 1}"
        rows.append(
            f"<tr><td>{n}</td><td>{_e(line.title)}</td><td>{_e(line.doc_no)}</td>"
            f"<td>{_e(line.day)}</td><td>{span}</td><td>{line.pages}</td></tr>"
        )
        page += line.pages
    return (
        "<h1>卷内目录</h1><table class='cat'><tr><th>序号</th><th>题名</th><th>文号</th>"
        f"<th>日期</th><th>页号</th><th>页数</th></tr>{''.join(rows)}</table>"
    )


def _evidence_list(case: Case, items: Sequence[_Item]) -> str:
    # one block per item, not a table: a long table spanning pages took WeasyPrint 20 s and
    # 270 MiB for 200 items, these blocks 2.7 s
    blocks = "".join(
        f'<div class="ev"><p>{n}. {_e(i.upload.caption or "—")}；证明对象：'
        f"{_e(i.upload.proves or '—')}；拍摄时间 "
        f"{_e(i.evidence.captured_at.astimezone(COUNTY_TZ).strftime('%Y-%m-%d %H:%M'))}；"
        f"位置 {i.evidence.lon:.6f}, {i.evidence.lat:.6f}；制作人 {_e(i.producer or '—')}</p>"
        f'<p class="hash">SHA-256 {_e(i.evidence.sha256)}</p></div>'
        for n, i in enumerate(items, start=1)
    )
    return (
        f"<h1>证据清单</h1><p>案件编号：{_e(case.case_no)}；证据 {len(items)} 项，原件见"
        f"“05-证据原件”，加注说明的照片见“06-现场照片”。</p>{blocks}"
    )


def _readme(case_no: str, file_id: uuid.UUID, key_id: str, fingerprint: str) -> bytes:
    text = f"""案卷校验说明 / How to verify this case file

案件编号 Case number：{case_no}
案卷导出编号 Export id：{file_id}
签名公钥编号 Signing key id：{key_id}
公钥指纹（SHA-256）Public key fingerprint：{fingerprint}

manifest.json 按卷内顺序列出每个文件的 SHA-256 和大小；manifest.sig、manifest.sig.bin 是用
证据包专用密钥（Ed25519）对 manifest.json 的签名。核对公钥指纹与大队公布的一致后：
    openssl pkeyutl -verify -pubin -inkey {PUBLIC_KEY} -rawin -in manifest.json \\
        -sigfile manifest.sig.bin
    patrol package verify 案卷.zip --public-key 公布的公钥.pem

manifest.json lists every file in the file's order with its SHA-256 and size; manifest.sig
and manifest.sig.bin are its Ed25519 signature under the brigade's package key. Check the
key's fingerprint against the published one, then run either command above.
"""
    return text.replace("\n", "\r\n").encode("utf-8")


async def _render(layout: LayoutProcess, html_body: str) -> tuple[bytes, int]:
    page = (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"></head>'
        f"<body>{html_body}</body></html>"
    )
    return await layout.render_pages(page, css=_CSS)


def _doc_entries(
    docs: Sequence[tuple[CaseDocument, list[DocumentScan]]],
) -> tuple[list[ZipEntry], list[_Line]]:
    entries: list[ZipEntry] = []
    lines: list[_Line] = []
    for n, (doc, scans) in enumerate(docs, start=1):
        title = TITLES[DocumentKind(doc.kind)]
        path = f"03-文书/{n:02d}-{title}-{doc.doc_no}.pdf"
        entries.append(ZipEntry(path, doc.size_bytes, doc.sha256, key=doc.object_key))
        lines.append(_Line(title, doc.doc_no, _day(doc.generated_at), doc.pages, path))
        for m, scan in enumerate(scans, start=1):
            ext = _EXT.get(scan.media_type, "bin")
            spath = f"03-文书/{n:02d}-{title}-扫描件-{m}.{ext}"
            entries.append(ZipEntry(spath, scan.size_bytes, scan.sha256, key=scan.object_key))
            lines.append(
                _Line(
                    f"{title}（签章扫描件）", doc.doc_no, _day(scan.attached_at), scan.pages, spath
                )
            )
    return entries, lines


def _evidence_entries(
    items: Sequence[_Item], lines: list[_Line]
) -> tuple[list[ZipEntry], list[ZipEntry]]:
    """The originals and the photos (captioned copies where made), each group a catalogue
    line."""
    originals = [
        ZipEntry(
            f"05-证据原件/{i.evidence.id}.{_EXT.get(i.evidence.media_type.lower(), 'bin')}",
            i.evidence.size_bytes,
            i.evidence.sha256,
            key=i.evidence.original_key,
        )
        for i in items
    ]
    if originals:
        lines.append(
            _Line(f"证据原件（{len(originals)} 件）", "", "", len(originals), "05-证据原件/")
        )
    photos: list[ZipEntry] = []
    for n, i in enumerate((i for i in items if i.evidence.kind == "photo"), start=1):
        path = f"06-现场照片/{n:03d}-{i.evidence.id}.jpg"
        if i.captioned is not None:
            c = i.captioned
            photos.append(ZipEntry(path, c.size_bytes, c.sha256, key=c.object_key))
        else:
            ev = i.evidence
            photos.append(ZipEntry(path, ev.size_bytes, ev.sha256, key=ev.original_key))
    if photos:
        lines.append(_Line(f"现场照片（{len(photos)} 张）", "", "", len(photos), "06-现场照片/"))
    return originals, photos


async def export_case_file(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    *,
    store: ObjectStore,
    custody_key: str,
    keys: PackageKeyring | None,
    chunk_size: int = CHUNK,
    now: datetime | None = None,
) -> CaseFile:
    """Prepare the case's 案卷 (captains, admins) and log the export in the caller's
    transaction; returns the file to stream. ``now``: the export's time (the server's clock
    when not given)."""
    require_role(principal, *_EXPORTERS, action="export case files")
    case = await load_case(session, principal, case_id)
    if not custody_key or keys is None:
        raise PackageSigningKeyMissingError("no package signing key is configured")
    signer = await asyncio.to_thread(keys.signer)
    county = await session.get(County, case.county_id)
    assert county is not None
    now = (now or datetime.now(UTC)).astimezone(UTC)
    file_id = uuid7()
    docs = await case_documents(session, case)
    items = await _items(session, case)
    doc_entries, lines = _doc_entries(docs)
    # the layout of hundreds of list rows takes memory: a child's, given back when it ends
    layout = LayoutProcess()
    try:
        evidence_list, list_pages = await _render(layout, _evidence_list(case, items))
        lines.append(_Line("证据清单", "", _day(now), list_pages, "04-证据清单.pdf"))
        originals, photos = _evidence_entries(items, lines)
        penalty = await session.get(CasePenalty, case.id)
        parties = [str(p.get("name", "")) for p in parties_of(case, penalty)]
        filed = await _filed_at(session, case) or next(
            (d.generated_at for d, _ in docs if d.kind == DocumentKind.FILING_APPROVAL), None
        )
        officers = "、".join(sorted({i.producer for i in items if i.producer}))
        cover, cover_pages = await _render(
            layout, _cover(case, county, "、".join(parties), officers, _day(filed))
        )
        catalogue_pages = 1
        while True:  # the catalogue's own length moves the pages after it
            catalogue, pages = await _render(
                layout, _catalogue(lines, cover_pages + catalogue_pages + 1)
            )
            if pages == catalogue_pages:
                break
            catalogue_pages = pages
    finally:
        layout.close()
    entries = [
        data_entry("01-卷宗封面.pdf", cover),
        data_entry("02-卷内目录.pdf", catalogue),
        *doc_entries,
        data_entry("04-证据清单.pdf", evidence_list),
        *originals,
        *photos,
        data_entry(PUBLIC_KEY, signer.public.public_key_pem.encode("ascii")),
        data_entry(
            "README.txt", _readme(case.case_no, file_id, signer.key_id, signer.public.fingerprint)
        ),
    ]
    custody = CustodyLog(custody_key.encode("utf-8"))
    exported = [(i.evidence.id, o.path) for i, o in zip(items, originals, strict=True)]
    exported += [
        (d.id, e.path)
        for (d, _), e in zip(docs, (e for e in doc_entries if "扫描件" not in e.path), strict=True)
    ]
    for subject, path in exported:
        await custody.append(
            session, county_id=case.county_id, action=CustodyAction.EXPORTED, subject_id=subject,
            actor_id=principal.user_id, at=now,
            details={"case_file_id": str(file_id), "case_id": str(case.id),
                     "case_no": case.case_no, "path": path},
        )  # fmt: skip
    head_seq, head_hash = await chain_head(session, case.county_id)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "case_file_id": str(file_id),
        "created_at": now.isoformat(),
        "producer": {
            "system": "patrol",
            "county": {"id": str(county.id), "name": county.name, "admin_code": county.admin_code},
            "exported_by": {"user_id": str(principal.user_id), "username": principal.username},
        },
        "case": {"id": str(case.id), "case_no": case.case_no, "cause": case.cause,
                 "status": case.status},
        "catalogue": [
            {"title": ln.title, "doc_no": ln.doc_no, "date": ln.day, "pages": ln.pages,
             "path": ln.path}
            for ln in lines
        ],
        "documents": [
            {"id": str(d.id), "kind": d.kind, "doc_no": d.doc_no, "sha256": d.sha256,
             "pages": d.pages, "scans": [{"id": str(s.id), "sha256": s.sha256} for s in scans]}
            for d, scans in docs
        ],
        "evidence": [
            {"id": str(i.evidence.id), "sha256": i.evidence.sha256, "size": i.evidence.size_bytes,
             "caption": i.upload.caption, "proves": i.upload.proves,
             "captioned_copy": i.captioned is not None}
            for i in items
        ],
        "files": [{"path": e.path, "sha256": e.sha256, "size": e.size} for e in entries],
        "custody_head": {"seq": head_seq, "hash": head_hash},
        "signing_key": {"alg": ALGORITHM, "key_id": signer.key_id,
                        "fingerprint_sha256": signer.public.fingerprint, "public_key": PUBLIC_KEY},
    }  # fmt: skip
    signed = signed_entries(manifest, signer)
    entries += signed.entries
    record_event(
        session, case, "case_file_exported", principal.user_id,
        {"case_file_id": str(file_id), "documents": len(docs), "evidence": len(items),
         "manifest_sha256": signed.manifest_sha256},
        at=now,
    )  # fmt: skip
    await session.flush()
    file_name = f"案卷-{case.case_no}-{str(file_id)[:8]}.zip".replace("/", "_")
    return CaseFile(
        file_id=file_id, case_id=case.id, case_no=case.case_no, file_name=file_name,
        created_at=now, manifest=manifest, manifest_bytes=signed.manifest_bytes,
        signature=signed.signature, key_id=signer.key_id, _entries=entries, _store=store,
        _chunk_size=chunk_size,
    )  # fmt: skip
