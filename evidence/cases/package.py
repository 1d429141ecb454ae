"""Verifiable evidence packages for criminal referrals: export as a streamed ZIP, and verify.

Layout of a package (ZIP, stored, ZIP64 when needed)::

    originals/<evidence id>.<ext>   the originals, byte for byte as accepted
    thumbs/<evidence id>.jpg        thumbnails, where made (for the evidence sheet)
    referral-letter.pdf             the 涉嫌犯罪案件移送书 of the referral (generated from the
                                    referral's data when the case has none yet; it stays
                                    among the case's documents)
    evidence.geojson                evidence locations (points, accuracy, time, producer)
    case.geojson                    the case: located point and surveyed polygon
    evidence-sheet.html             print-ready evidence sheet (A4), captions and hashes, the
                                    signing key's id and fingerprint
    public-key.pem                  the signer's Ed25519 public key (compare its fingerprint
                                    with the published one before trusting it)
    README.txt                      how to verify (Chinese, then English)
    manifest.json                   ids, SHA-256, sizes, capture metadata, producer, object to
                                    be proved, custody entries, the signing key's id, and every
                                    file's hash (all the files above)
    manifest.sig                    ``{"alg": "Ed25519", "keyId", "signature"}``: the base64
                                    Ed25519 signature of the exact bytes of manifest.json
    manifest.sig.bin                the same signature, raw (64 bytes), for OpenSSL:
                                    ``openssl pkeyutl -verify -pubin -inkey public-key.pem
                                    -rawin -in manifest.json -sigfile manifest.sig.bin``

Packages are signed with the server's package key pair (:mod:`evidence.cases.package_keys`),
used for nothing else: anyone holding the published public key can check a package, and the
key cannot mint tokens. Packages of format 1 carry an HMAC-SHA256 ``manifest.sig`` under the
server's package secret instead; they still verify with that secret.

The stream and the signature are :mod:`evidence.cases.signed_zip`'s, shared with the 案卷
(:mod:`evidence.cases.case_file`). Export (:func:`export_referral_package`) does every
database read and write up front — the custody entries of the export, the
``case_packages`` row, the referral letter when it is generated — in the caller's
transaction, then returns a :class:`ReferralPackage` whose chunks come from the object
store only, so a web response can stream it after the transaction has committed. Memory
stays bounded by the chunk size; each original is hashed while it streams and a difference
from the hash taken at intake stops the stream (:class:`PackageSourceMismatchError`).

:func:`verify_package` checks a package file: the signature (Ed25519 with the given public
keys, or HMAC with the given secret for format 1), every listed file's SHA-256 and size, and
files missing or added; it returns a :class:`PackageReport` listing every problem. It needs
no database, no object store and no server settings.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import html
import json
import uuid
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.cases import case_evidence_ids, get_case, load_case, record_event
from evidence.cases.documents import referral_letter
from evidence.cases.errors import (
    CaseHasNoEvidenceError,
    PackageSigningKeyMissingError,
    PackageTamperedError,
    ReferralNotFoundError,
)
from evidence.cases.models import Case, CasePackage, Referral
from evidence.cases.package_keys import ALGORITHM, PackageKeyring, PublicKey
from evidence.cases.signed_zip import (
    CHUNK,
    MANIFEST,
    PUBLIC_KEY,
    SIGNATURE,
    SIGNATURE_BIN,
    StreamedZip,
    ZipEntry,
    data_entry,
    signed_entries,
)
from evidence.custody import CustodyAction, CustodyLog, chain_head
from evidence.models import CustodyEntry, Derivative, Evidence, Upload
from geofence.overlay import to_mu
from infra.ids import uuid7
from infra.objectstore import ObjectStore
from infra.scope import COUNTY_TZ, Principal, Role, require_role
from patrol.models import County, User

__all__ = [
    "FORMAT",
    "LETTER",
    "MANIFEST",
    "PUBLIC_KEY",
    "README",
    "SIGNATURE",
    "SIGNATURE_BIN",
    "PackageProblem",
    "PackageReport",
    "ReferralPackage",
    "export_referral_package",
    "sign_manifest",
    "verify_package",
]

FORMAT = "patrol-referral-package/2"
LETTER = "referral-letter.pdf"  # 涉嫌犯罪案件移送书
README = "README.txt"
_HMAC = "HMAC-SHA256"
_CHUNK = CHUNK
_MAX_MANIFEST = 64 * 1024 * 1024
# the procuratorate exports the package of a referred case (the only cases it sees)
_EXPORTERS = (Role.SECURITY_SQUAD, Role.CAPTAIN, Role.ADMIN, Role.PROCURATORATE)
_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/heic": "heic",
    "image/heif": "heif",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/3gpp": "3gp",
}


def sign_manifest(manifest: bytes, key: str) -> str:
    """HMAC-SHA256 (hex) of the manifest bytes under the package secret: how packages of
    format 1 were signed (kept to verify them)."""
    return hmac.new(key.encode("utf-8"), manifest, hashlib.sha256).hexdigest()


# -- the stream ----------------------------------------------------------------------------------
@dataclass(slots=True)
class ReferralPackage(StreamedZip):
    """An export ready to stream. Iterate it (``async for chunk in package``) exactly once."""

    package_id: uuid.UUID
    case_id: uuid.UUID
    case_no: str
    file_name: str
    created_at: datetime
    manifest: dict[str, Any]
    manifest_bytes: bytes
    signature: str  # base64 Ed25519 signature of manifest_bytes
    key_id: str
    evidence_count: int
    originals_bytes: int
    _entries: list[ZipEntry]
    _store: ObjectStore
    _chunk_size: int = _CHUNK


# -- gathering -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Item:
    evidence: Evidence
    upload: Upload
    producer: User | None
    thumbnail: Derivative | None
    path: str
    custody: list[CustodyEntry]


def _ext(media_type: str, kind: str) -> str:
    return _EXTENSIONS.get(media_type.lower(), "jpg" if kind == "photo" else "bin")


def _local(at: datetime | None) -> str:
    if at is None:
        return ""
    return at.astimezone(COUNTY_TZ).strftime("%Y-%m-%d %H:%M:%S") + " (UTC+8)"


def _heading(item: _Item) -> float | None:
    if item.upload.heading_deg is not None:
        return float(item.upload.heading_deg)
    value = (item.evidence.file_meta or {}).get("direction_deg")
    return float(value) if isinstance(value, int | float) else None


def _custody_json(entry: CustodyEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "action": entry.action,
        "actor_id": str(entry.actor_id) if entry.actor_id else None,
        "at": entry.at.astimezone(UTC).isoformat(),
        "details": entry.details,
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
    }


def _evidence_json(item: _Item) -> dict[str, Any]:
    ev, up = item.evidence, item.upload
    return {
        "id": str(ev.id),
        "path": item.path,
        "sha256": ev.sha256,
        "size": ev.size_bytes,
        "kind": ev.kind,
        "media_type": ev.media_type,
        "file_name": up.file_name,
        "captured_at": ev.captured_at.astimezone(UTC).isoformat(),
        "captured_at_source": ev.captured_at_source,
        "received_at": ev.received_at.astimezone(UTC).isoformat(),
        "position": {
            "lon": ev.lon,
            "lat": ev.lat,
            "accuracy_m": ev.position_accuracy_m,
            "source": ev.position_source,
        },
        "heading_deg": _heading(item),
        "device": {
            "make": (ev.file_meta or {}).get("make"),
            "model": (ev.file_meta or {}).get("model"),
        },
        "file_meta": ev.file_meta,
        "trust_flags": list(ev.flags or []),
        "location_check": ev.location_check,
        "producer": {
            "user_id": str(up.uploader_id),
            "name": item.producer.display_name if item.producer else "",
        },
        "production_method": f"{ev.kind} taken on a phone and uploaded; original kept unchanged",
        "caption": up.caption,
        "proves": up.proves,
        "view_type": up.view_type,
        "original_key": ev.original_key,
        "thumbnail": f"thumbs/{ev.id}.jpg" if item.thumbnail is not None else None,
        "custody": [_custody_json(e) for e in item.custody],
    }


def _geojson_bytes(obj: Mapping[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")


def _evidence_geojson(items: Sequence[_Item]) -> bytes:
    features = [
        {
            "type": "Feature",
            "id": str(i.evidence.id),
            "geometry": {"type": "Point", "coordinates": [i.evidence.lon, i.evidence.lat]},
            "properties": {
                "evidence_id": str(i.evidence.id),
                "path": i.path,
                "sha256": i.evidence.sha256,
                "captured_at": i.evidence.captured_at.astimezone(UTC).isoformat(),
                "accuracy_m": i.evidence.position_accuracy_m,
                "position_source": i.evidence.position_source,
                "heading_deg": _heading(i),
                "producer": i.producer.display_name if i.producer else "",
                "caption": i.upload.caption,
                "proves": i.upload.proves,
            },
        }
        for i in items
    ]
    return _geojson_bytes({"type": "FeatureCollection", "features": features})


def _case_geojson(case: Mapping[str, Any], surveyed: Mapping[str, Any] | None) -> bytes:
    props = {"case_id": case["id"], "case_no": case["case_no"], "cause": case["cause"]}
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "id": "located",
            "geometry": {"type": "Point", "coordinates": [case["lon"], case["lat"]]},
            "properties": {**props, "role": "located"},
        }
    ]
    if surveyed is not None:
        features.append(
            {
                "type": "Feature",
                "id": "surveyed",
                "geometry": dict(surveyed),
                "properties": {**props, "role": "surveyed", **case["areas"]},
            }
        )
    return _geojson_bytes({"type": "FeatureCollection", "features": features})


_CSS = """
@page { size: A4; margin: 15mm; }
body { font-family: "Noto Serif CJK SC", "SimSun", serif; font-size: 10.5pt; color: #000; }
h1 { font-size: 16pt; text-align: center; margin: 0 0 4mm; }
table.meta { border-collapse: collapse; width: 100%; margin-bottom: 4mm; }
table.meta td, table.meta th { border: 1px solid #000; padding: 1.5mm; vertical-align: top; }
.item { page-break-inside: avoid; break-inside: avoid; margin-bottom: 5mm; }
.item img { max-width: 80mm; max-height: 60mm; display: block; }
.hash { font-family: monospace; font-size: 8pt; word-break: break-all; }
"""


def _row(label: str, value: Any) -> str:
    return f"<tr><th>{html.escape(label)}</th><td>{html.escape(str(value))}</td></tr>"


def _sheet(
    case: Mapping[str, Any], items: Sequence[_Item], package_id: uuid.UUID, key: PublicKey
) -> bytes:
    parties = "、".join(p["name"] for p in case["parties"]) or "—"
    head = "".join(
        [
            _row("案件编号", case["case_no"]),
            _row("案由", case["cause"]),
            _row("当事人", parties),
            _row(
                "面积",
                f"{case['areas']['total_mu']} 亩（耕地 {case['areas']['cultivated_mu']}"
                f" 亩，永久基本农田 {case['areas']['basic_farmland_mu']} 亩）",
            ),
            _row("证据数量", len(items)),
            _row("证据包编号", package_id),
            _row("签名算法", f"{key.algorithm}（签名文件 {SIGNATURE}、{SIGNATURE_BIN}）"),
            _row("签名公钥编号", key.key_id),
        ]
    )
    head += f'<tr><th>公钥指纹（SHA-256）</th><td class="hash">{key.fingerprint}</td></tr>'
    blocks = []
    for n, item in enumerate(items, start=1):
        ev, up = item.evidence, item.upload
        if item.thumbnail is not None:
            picture = f'<img src="thumbs/{ev.id}.jpg" alt="">'
        elif ev.kind == "photo":
            picture = f'<img src="{html.escape(item.path)}" alt="">'
        else:
            picture = "<p>（视频，见原始文件）</p>"
        heading = _heading(item)
        rows = "".join(
            [
                _row("证据编号", ev.id),
                _row("说明", up.caption or "—"),
                _row("证明对象", up.proves or "—"),
                _row("拍摄时间", _local(ev.captured_at)),
                _row(
                    "地点",
                    f"经度 {ev.lon:.6f}，纬度 {ev.lat:.6f}，精度 ±{ev.position_accuracy_m:.0f} 米",
                ),
                _row("方位角", "—" if heading is None else f"{heading:.0f}°"),
                _row(
                    "制作人", item.producer.display_name if item.producer else str(up.uploader_id)
                ),
                _row("制作方法", "手机现场拍摄，原始文件未经编辑"),
                _row("原始文件", f"{item.path}（{ev.size_bytes} 字节）"),
            ]
        )
        blocks.append(
            f'<div class="item"><h2>证据 {n}</h2>{picture}<table class="meta">{rows}'
            f'<tr><th>SHA-256</th><td class="hash">{ev.sha256}</td></tr></table></div>'
        )
    page = (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{html.escape(case['case_no'])} 证据材料</title><style>{_CSS}</style></head>"
        f'<body><h1>视听资料、电子数据证据清单</h1><table class="meta">{head}</table>'
        f"{''.join(blocks)}</body></html>"
    )
    return page.encode("utf-8")


def _readme(case_no: str, package_id: uuid.UUID, key: PublicKey) -> bytes:
    """How to verify the package with the public key alone (Chinese first, English after)."""
    verify = (
        f"openssl pkeyutl -verify -pubin -inkey {PUBLIC_KEY} -rawin -in {MANIFEST} "
        f"-sigfile {SIGNATURE_BIN}"
    )
    fingerprint = (
        f"openssl pkey -pubin -in {PUBLIC_KEY} -outform DER | tail -c 32 | openssl dgst -sha256"
    )
    text = f"""证据包校验说明
==============

案件编号：{case_no}
证据包编号：{package_id}
签名算法：{key.algorithm}
签名公钥编号：{key.key_id}
公钥指纹（SHA-256）：{key.fingerprint}

{MANIFEST} 列出本包每个文件的 SHA-256 和大小；{SIGNATURE} 和 {SIGNATURE_BIN} 是执法监察大队
用证据包专用密钥对 {MANIFEST} 的签名。校验只需公钥，不需要大队的服务器或任何密码。

一、核对公钥
本包内的 {PUBLIC_KEY} 是签名者的公钥。使用前须将其指纹与大队公布的公钥指纹（书面提供，
或系统“签名公钥”接口 GET /api/v1/signing-keys）核对一致；不一致则本包不可信。计算指纹：
    {fingerprint}

二、校验签名（OpenSSL 3.0 及以上）
    {verify}
显示 “Signature Verified Successfully” 即 {MANIFEST} 自签名后未被改动。

三、校验文件
逐个计算文件的 SHA-256（sha256sum 文件名，Windows 下 certutil -hashfile 文件名 SHA256），
与 {MANIFEST} 中 files 列出的值比对；也可用本系统的命令一次完成以上全部校验：
    patrol package verify 证据包.zip --public-key 公布的公钥.pem
（无需数据库或服务器；任何问题都会列出，并以退出码 1 结束。）


How to verify this package
==========================

Case number: {case_no}
Package id: {package_id}
Signature algorithm: {key.algorithm}
Signing key id: {key.key_id}
Public key fingerprint (SHA-256): {key.fingerprint}

{MANIFEST} lists every file of the package with its SHA-256 and size; {SIGNATURE} and
{SIGNATURE_BIN} are the brigade's signature of {MANIFEST} under its package-only key.
Checking needs the public key only: no server, no password.

1. Check the public key. {PUBLIC_KEY} in this package is the signer's public key. Compare
   its fingerprint with the one the brigade publishes (on paper, or GET /api/v1/signing-keys)
   before trusting it; if they differ, do not trust the package. The fingerprint:
    {fingerprint}

2. Check the signature (OpenSSL 3.0 or later):
    {verify}
   "Signature Verified Successfully" means {MANIFEST} is unchanged since it was signed.

3. Check the files: compute each file's SHA-256 (sha256sum FILE; on Windows
   certutil -hashfile FILE SHA256) and compare with the "files" list of {MANIFEST}; or do
   all of the above at once with this system's command:
    patrol package verify PACKAGE.zip --public-key PUBLISHED-KEY.pem
   (no database or server needed; it lists every problem and exits with 1 on any.)
"""
    return text.replace("\n", "\r\n").encode("utf-8")


async def _items(
    session: AsyncSession, case: Case, evidence_ids: Sequence[uuid.UUID]
) -> list[_Item]:
    rows = (
        await session.execute(
            select(Evidence, Upload)
            .join(Upload, Upload.id == Evidence.id)
            .where(Evidence.id.in_(evidence_ids), Evidence.county_id == case.county_id)
        )
    ).all()
    by_id = {ev.id: (ev, up) for ev, up in rows}
    uploaders = {up.uploader_id for _, up in by_id.values()}
    users = {
        u.id: u for u in (await session.scalars(select(User).where(User.id.in_(uploaders)))).all()
    }
    thumbs = {
        d.evidence_id: d
        for d in (
            await session.scalars(
                select(Derivative).where(
                    Derivative.evidence_id.in_(list(by_id)), Derivative.kind == "thumbnail"
                )
            )
        ).all()
    }
    out = []
    for evidence_id in evidence_ids:
        if evidence_id not in by_id:
            continue
        ev, up = by_id[evidence_id]
        out.append(
            _Item(
                evidence=ev,
                upload=up,
                producer=users.get(up.uploader_id),
                thumbnail=thumbs.get(ev.id),
                path=f"originals/{ev.id}.{_ext(ev.media_type, ev.kind)}",
                custody=[],
            )
        )
    return out


async def _referral(
    session: AsyncSession, case: Case, referral_id: uuid.UUID | None
) -> Referral | None:
    stmt = select(Referral).where(Referral.case_id == case.id)
    if referral_id is not None:
        row = await session.scalar(stmt.where(Referral.id == referral_id))
        if row is None:
            raise ReferralNotFoundError("referral not found", referral_id=str(referral_id))
        return row
    return await session.scalar(stmt.order_by(Referral.created_at.desc()).limit(1))


def _referral_json(row: Referral | None) -> dict[str, Any] | None:
    if row is None:
        return None

    def iso(value: datetime | None) -> str | None:
        return value.astimezone(UTC).isoformat() if value else None

    return {
        "id": str(row.id),
        "status": row.status,
        "team_ids": [str(i) for i in row.team_ids],
        "reported_at": iso(row.reported_at),
        "decision": row.decision,
        "decided_at": iso(row.decided_at),
        "transferred_at": iso(row.transferred_at),
        "police_unit": row.police_unit,
        "materials": row.materials,
    }


# -- export --------------------------------------------------------------------------------------
async def export_referral_package(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    *,
    store: ObjectStore,
    custody_key: str,
    keys: PackageKeyring | None,
    referral_id: uuid.UUID | None = None,
    chunk_size: int = _CHUNK,
) -> ReferralPackage:
    """Prepare the evidence package of a case (squad, captains, admins) and log the export.

    Writes one ``exported`` custody entry per evidence, a ``case_packages`` row and a case
    event, in the caller's transaction; returns the package to stream. ``custody_key`` is
    ``settings.evidence.package_signing_key`` (the custody log's key); the manifest is
    signed with the current key of ``keys`` (made on first use).
    """
    require_role(principal, *_EXPORTERS, action="export evidence packages")
    case = await load_case(session, principal, case_id)  # an unseen case is 404 before all
    if not custody_key or keys is None:
        raise PackageSigningKeyMissingError("no package signing key is configured")
    signer = await asyncio.to_thread(keys.signer)
    evidence_ids = await case_evidence_ids(session, case)
    items = await _items(session, case, evidence_ids)
    if not items:
        raise CaseHasNoEvidenceError("the case has no evidence to package", case_id=str(case.id))
    referral = await _referral(session, case, referral_id)
    view = await get_case(session, principal, case.id)
    county = await session.get(County, case.county_id)
    assert county is not None
    package_id = uuid7()
    now = datetime.now(UTC)
    custody = CustodyLog(custody_key.encode("utf-8"))
    for item in items:
        await custody.append(
            session,
            county_id=case.county_id,
            action=CustodyAction.EXPORTED,
            subject_id=item.evidence.id,
            actor_id=principal.user_id,
            details={
                "package_id": str(package_id),
                "case_id": str(case.id),
                "case_no": case.case_no,
                "path": item.path,
            },
            at=now,
        )
    for item in items:
        item.custody.extend(await custody.entries_for(session, case.county_id, item.evidence.id))
    head_seq, head_hash = await chain_head(session, case.county_id)

    case_json: dict[str, Any] = {
        "id": str(case.id),
        "case_no": case.case_no,
        "cause": case.cause,
        "violation_kind": case.violation_kind,
        "status": case.status,
        "parties": [p.to_json() for p in view.parties],
        "source": {"kind": case.source_kind, "id": str(case.source_id) if case.source_id else None},
        "act_date": case.act_date.isoformat() if case.act_date else None,
        "lon": view.lon,
        "lat": view.lat,
        "areas": {
            "total_m2": view.areas.total_m2,
            "cultivated_m2": view.areas.cultivated_m2,
            "basic_farmland_m2": view.areas.basic_farmland_m2,
            "total_mu": view.areas.total_mu,
            "cultivated_mu": view.areas.cultivated_mu,
            "basic_farmland_mu": view.areas.basic_farmland_mu,
            "by_class_m2": view.areas.by_class,
            "source": view.areas.source,
            "declared_m2": view.declared_areas_m2,
            "declared_mu": {k: to_mu(v, 2) for k, v in view.declared_areas_m2.items()},
        },
        "values_yuan": {
            "ore_value": str(case.ore_value_yuan) if case.ore_value_yuan is not None else None,
            "destroyed_value": (
                str(case.destroyed_value_yuan) if case.destroyed_value_yuan is not None else None
            ),
            "illegal_gain": (
                str(case.illegal_gain_yuan) if case.illegal_gain_yuan is not None else None
            ),
        },
        "suggestions": [
            {
                "rule_code": s.rule_code,
                "crime": s.crime,
                "citation": s.citation,
                "value": str(s.value),
                "threshold": str(s.threshold),
                "unit": s.unit,
            }
            for s in view.suggestions
        ],
    }
    generated = {
        "evidence.geojson": _evidence_geojson(items),
        "case.geojson": _case_geojson(case_json, view.surveyed_geometry),
        "evidence-sheet.html": _sheet(case_json, items, package_id, signer.public),
        PUBLIC_KEY: signer.public.public_key_pem.encode("ascii"),
        README: _readme(case.case_no, package_id, signer.public),
    }
    entries = [
        ZipEntry(i.path, i.evidence.size_bytes, i.evidence.sha256, key=i.evidence.original_key)
        for i in items
    ]
    entries += [
        ZipEntry(
            f"thumbs/{i.evidence.id}.jpg",
            i.thumbnail.size_bytes,
            i.thumbnail.sha256,
            key=i.thumbnail.object_key,
        )
        for i in items
        if i.thumbnail is not None
    ]
    letter = None
    if referral is not None:  # 涉嫌犯罪案件移送书: generated from the referral when not yet
        letter = await referral_letter(
            session, principal, case, referral, store=store, custody_key=custody_key, now=now
        )
        entries.append(ZipEntry(LETTER, letter.size_bytes, letter.sha256, key=letter.object_key))
    entries += [data_entry(name, data) for name, data in generated.items()]
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "package_id": str(package_id),
        "created_at": now.isoformat(),
        "producer": {
            "system": "patrol",
            "county": {"id": str(county.id), "name": county.name, "admin_code": county.admin_code},
            "exported_by": {"user_id": str(principal.user_id), "username": principal.username},
        },
        "case": case_json,
        "referral": _referral_json(referral),
        "referral_letter": None if letter is None else {
            "path": LETTER,
            "document_id": str(letter.id),
            "doc_no": letter.doc_no,
            "sha256": letter.sha256,
            "generated_at": letter.generated_at.astimezone(UTC).isoformat(),
        },
        "evidence": [_evidence_json(i) for i in items],
        "files": [{"path": e.path, "sha256": e.sha256, "size": e.size} for e in entries],
        "custody_head": {"seq": head_seq, "hash": head_hash},
        "signing_key": {
            "alg": ALGORITHM,
            "key_id": signer.key_id,
            "fingerprint_sha256": signer.public.fingerprint,
            "public_key": PUBLIC_KEY,
        },
    }  # fmt: skip
    signed = signed_entries(manifest, signer)
    manifest_bytes, signature = signed.manifest_bytes, signed.signature
    entries += signed.entries
    file_name = f"referral-{case.case_no}-{str(package_id)[:8]}.zip".replace("/", "_")
    originals = sum(i.evidence.size_bytes for i in items)
    session.add(
        CasePackage(
            id=package_id,
            county_id=case.county_id,
            case_id=case.id,
            referral_id=referral.id if referral else None,
            exported_by=principal.user_id,
            exported_at=now,
            file_name=file_name[:200],
            manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
            signature=signature,
            signature_alg=ALGORITHM,
            signing_key_id=signer.key_id,
            evidence_count=len(items),
            total_bytes=originals,
            custody_head_seq=head_seq,
            custody_head_hash=head_hash,
        )
    )
    record_event(
        session,
        case,
        "package_exported",
        principal.user_id,
        {"package_id": str(package_id), "evidence": len(items)},
        referral_id=referral.id if referral else None,
        at=now,
    )
    await session.flush()
    return ReferralPackage(
        package_id=package_id,
        case_id=case.id,
        case_no=case.case_no,
        file_name=file_name,
        created_at=now,
        manifest=manifest,
        manifest_bytes=manifest_bytes,
        signature=signature,
        key_id=signer.key_id,
        evidence_count=len(items),
        originals_bytes=originals,
        _entries=entries,
        _store=store,
        _chunk_size=chunk_size,
    )


# -- verify --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PackageProblem:
    """One thing wrong with a package.

    ``problem`` is one of: ``not_a_zip``, ``manifest_missing``, ``manifest_unreadable``,
    ``signature_missing``, ``signature_invalid``, ``signature_unchecked`` (no key given),
    ``file_missing``, ``file_modified``, ``size_mismatch``, ``unexpected_file``.
    """

    path: str
    problem: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class PackageReport:
    """What :func:`verify_package` found. ``key_id`` names the key the package says signed it
    (``fingerprint`` is that key's, when one of the given keys is it)."""

    path: str
    package_id: str | None
    case_no: str | None
    signature_valid: bool | None
    files_checked: int
    problems: tuple[PackageProblem, ...]
    algorithm: str | None = None
    key_id: str | None = None
    fingerprint: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_for_problems(self) -> None:
        """Raise :class:`PackageTamperedError` (``package_tampered``) listing every problem."""
        if self.problems:
            raise PackageTamperedError(
                f"the package failed verification ({len(self.problems)} problems)",
                problems=[
                    {"path": p.path, "problem": p.problem, "detail": p.detail}
                    for p in self.problems
                ],
            )

    def lines(self) -> Iterator[str]:
        """Human-readable lines for ``patrol package verify``."""
        yield f"package {self.package_id or '?'} (case {self.case_no or '?'}): " + (
            "OK" if self.ok else "FAILED"
        )
        if self.algorithm:
            signed = f"signature: {self.algorithm}"
            if self.key_id:
                signed += f", key {self.key_id}"
            if self.fingerprint:
                signed += f" (SHA-256 fingerprint {self.fingerprint})"
            verdict = {True: "valid", False: "INVALID", None: "not checked"}
            yield f"{signed}: {verdict[self.signature_valid]}"
        yield f"files checked: {self.files_checked}"
        for p in self.problems:
            yield f"  {p.problem}: {p.path}" + (f" - {p.detail}" if p.detail else "")


def _hash_member(zf: zipfile.ZipFile, name: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with zf.open(name) as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


@dataclass(slots=True)
class _Signature:
    """What ``manifest.sig`` claims, and what checking it found."""

    algorithm: str | None = None
    key_id: str | None = None
    fingerprint: str | None = None
    valid: bool | None = None


def _check_hmac(
    manifest_bytes: bytes, claimed: str, hmac_key: str, problems: list[PackageProblem]
) -> bool | None:
    if not hmac_key:
        detail = "no HMAC key given (packages of format 1 verify with the server's secret)"
        problems.append(PackageProblem(SIGNATURE, "signature_unchecked", detail))
        return None
    if not hmac.compare_digest(sign_manifest(manifest_bytes, hmac_key), claimed):
        detail = "manifest.json was changed, or it was signed with another key"
        problems.append(PackageProblem(MANIFEST, "signature_invalid", detail))
        return False
    return True


def _read_raw_signature(zf: zipfile.ZipFile) -> bytes | None:
    try:
        info = zf.getinfo(SIGNATURE_BIN)
    except KeyError:
        return None
    return zf.read(SIGNATURE_BIN) if info.file_size <= 1024 else b""


def _check_ed25519(
    zf: zipfile.ZipFile,
    manifest: Mapping[str, Any],
    manifest_bytes: bytes,
    sig: Mapping[str, Any],
    *,
    public_keys: Sequence[PublicKey],
    problems: list[PackageProblem],
) -> _Signature:
    key_id = str(sig.get("keyId", ""))
    found = _Signature(ALGORITHM, key_id or None)
    try:
        raw = base64.b64decode(str(sig["signature"]), validate=True)
    except (KeyError, binascii.Error) as exc:
        problems.append(PackageProblem(SIGNATURE, "signature_invalid", f"unreadable: {exc}"))
        found.valid = False
        return found
    named = (manifest.get("signing_key") or {}).get("key_id")
    if named != key_id:
        detail = f"manifest.json names key {named}, manifest.sig key {key_id}"
        problems.append(PackageProblem(SIGNATURE, "signature_invalid", detail))
    detached = _read_raw_signature(zf)
    if detached is None:
        problems.append(PackageProblem(SIGNATURE_BIN, "signature_missing"))
    elif detached != raw:
        detail = "differs from the signature in manifest.sig"
        problems.append(PackageProblem(SIGNATURE_BIN, "signature_invalid", detail))
    if not public_keys:
        detail = f"no public key given (the package says key {key_id} signed it)"
        problems.append(PackageProblem(SIGNATURE, "signature_unchecked", detail))
        return found
    key = next((k for k in public_keys if k.key_id == key_id), None)
    if key is None:
        given = ", ".join(k.key_id for k in public_keys)
        detail = f"signed by key {key_id}, which is not among the given public keys ({given})"
        problems.append(PackageProblem(SIGNATURE, "signature_invalid", detail))
        found.valid = False
        return found
    found.fingerprint = key.fingerprint
    found.valid = key.verify(raw, manifest_bytes)
    if not found.valid:
        detail = "manifest.json or its signature was changed"
        problems.append(PackageProblem(MANIFEST, "signature_invalid", detail))
    found.valid = found.valid and not any(p.problem == "signature_invalid" for p in problems)
    return found


def _check_signature(
    zf: zipfile.ZipFile,
    manifest: Mapping[str, Any],
    manifest_bytes: bytes,
    *,
    public_keys: Sequence[PublicKey],
    hmac_key: str,
    problems: list[PackageProblem],
) -> _Signature:
    try:
        sig = json.loads(zf.read(SIGNATURE))
        if not isinstance(sig, dict):
            msg = "manifest.sig is not a JSON object"
            raise TypeError(msg)
        algorithm = str(sig.get("alg", ""))
    except KeyError:
        problems.append(PackageProblem(SIGNATURE, "signature_missing"))
        return _Signature(valid=False)
    except (ValueError, TypeError, zipfile.BadZipFile) as exc:
        problems.append(PackageProblem(SIGNATURE, "signature_invalid", f"unreadable: {exc}"))
        return _Signature(valid=False)
    if algorithm == ALGORITHM:
        return _check_ed25519(
            zf, manifest, manifest_bytes, sig, public_keys=public_keys, problems=problems
        )
    if algorithm == _HMAC:
        valid = _check_hmac(manifest_bytes, str(sig.get("signature", "")), hmac_key, problems)
        return _Signature(_HMAC, str(sig.get("key_id", "")) or None, None, valid)
    problems.append(PackageProblem(SIGNATURE, "signature_invalid", f"unknown alg {algorithm!r}"))
    return _Signature(valid=False)


def _check_files(
    zf: zipfile.ZipFile,
    listed: Sequence[Mapping[str, Any]],
    unlisted: set[str],
    problems: list[PackageProblem],
) -> int:
    names = set(zf.namelist())
    checked = 0
    for item in listed:
        path = str(item.get("path", ""))
        if path not in names:
            problems.append(PackageProblem(path, "file_missing"))
            continue
        checked += 1
        try:
            digest, size = _hash_member(zf, path)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            problems.append(PackageProblem(path, "file_modified", str(exc)))
            continue
        if size != item.get("size"):
            problems.append(
                PackageProblem(
                    path, "size_mismatch", f"{size} bytes, manifest says {item.get('size')}"
                )
            )
        if digest != item.get("sha256"):
            problems.append(
                PackageProblem(path, "file_modified", f"SHA-256 {digest} != {item.get('sha256')}")
            )
    expected = {str(i.get("path", "")) for i in listed} | unlisted
    problems.extend(PackageProblem(name, "unexpected_file") for name in sorted(names - expected))
    return checked


def verify_package(
    path: Path | str, *, public_keys: Sequence[PublicKey] = (), hmac_key: str = ""
) -> PackageReport:
    """Check a package file: signature, every file's hash and size, missing and extra files.

    An Ed25519 package is checked with ``public_keys`` (the published ones, or the one key
    a recipient was given; the key the package names must be among them); a package of
    format 1 (HMAC-SHA256) with ``hmac_key``. Without the key it needs, the signature is
    reported ``signature_unchecked``. Never raises for a bad package: every problem is in the
    report (``report.ok`` is ``False``); :meth:`PackageReport.raise_for_problems` turns it
    into an error. Reads in bounded chunks, so any package size is fine.
    """
    problems: list[PackageProblem] = []
    where = str(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        problems.append(PackageProblem(where, "not_a_zip", str(exc)))
        return PackageReport(where, None, None, None, 0, tuple(problems))
    with zf:
        try:
            info = zf.getinfo(MANIFEST)
        except KeyError:
            problems.append(PackageProblem(MANIFEST, "manifest_missing"))
            return PackageReport(where, None, None, None, 0, tuple(problems))
        try:
            if info.file_size > _MAX_MANIFEST:
                msg = "manifest is too large"
                raise ValueError(msg)
            manifest_bytes = zf.read(MANIFEST)
            manifest = json.loads(manifest_bytes)
            listed = list(manifest["files"])
            package_id, case_no = manifest.get("package_id"), manifest["case"]["case_no"]
        except (ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            problems.append(PackageProblem(MANIFEST, "manifest_unreadable", str(exc)))
            return PackageReport(where, None, None, None, 0, tuple(problems))
        sig = _check_signature(
            zf, manifest, manifest_bytes, public_keys=public_keys, hmac_key=hmac_key,
            problems=problems,
        )  # fmt: skip
        unlisted = {MANIFEST, SIGNATURE}
        if sig.algorithm == ALGORITHM:
            unlisted.add(SIGNATURE_BIN)
        checked = _check_files(zf, listed, unlisted, problems)
    return PackageReport(
        where,
        package_id,
        case_no,
        sig.valid,
        checked,
        tuple(problems),
        algorithm=sig.algorithm,
        key_id=sig.key_id,
        fingerprint=sig.fingerprint,
    )
