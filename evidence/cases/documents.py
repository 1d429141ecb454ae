"""The case file's documents: generated from the case's data, numbered, stored, in custody.

``GenerateCaseDocument`` fills the template of a kind (:mod:`evidence.cases.document_templates`)
with the case's facts — parties, violations and their articles, measures, fines in figures
and capitals, the deadlines the procedure computes (:mod:`evidence.cases.procedure`), the
questions and answers of an inquiry — lays it out as PDF (:func:`infra.documents.render_pdf`,
on a worker thread), and stores it as an object that never changes. The row keeps the
object's SHA-256, size and pages; the custody chain gets a ``document_generated`` entry with
the hash; the step named (``stepId``) gets the document as its ``document_id``.

Numbers (文号) run per county, kind and year without gaps: one upsert on
``case_document_counters`` in the generating transaction takes the next number and holds
the row until the transaction ends, so concurrent generations queue and a rolled-back one
gives its number back.

Who: captains and admins generate documents and attach scans; whoever may read the case
lists, reads and downloads its documents (each download is a ``downloaded`` custody entry),
except that joint-team members may not download a document carrying a party's ID number
(403 ``document_has_id_numbers``): the number is the brigade's to know, not the joint
team's.

Scans (``AttachDocumentScan``): the signed and stamped paper, scanned — a PDF, JPEG or PNG of
at most :data:`MAX_SCAN_BYTES` sent straight to the API as a multipart upload (the type is
read from the file's first bytes) — stored as its own object, hashed, in custody
(``document_scan_attached``).

Errors: ``case_not_found``, ``case_document_not_found``, ``role_not_allowed``,
``document_has_id_numbers``, ``invalid_case_document`` (a step of another kind or case,
questions for a document that has none, an inquiry without them), ``document_not_ready``
(``missing``: the penalty content, the hearing right, the referral, the document served),
``invalid_document_scan``.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.cases import case_evidence_ids, load_case, record_event
from evidence.cases.document_models import CaseDocument, DocumentCounter, DocumentKind, DocumentScan
from evidence.cases.document_templates import (
    CSS,
    TITLES,
    DocumentData,
    document_number,
    render_document,
    yuan_capitals,
)
from evidence.cases.errors import (
    CaseDocumentNotFoundError,
    DocumentNotReadyError,
    DocumentRestrictedError,
    InvalidCaseDocumentError,
    PackageSourceMismatchError,
)
from evidence.cases.models import Case, CaseTeamMember, Referral, TeamRole
from evidence.cases.package_keys import PackageKeyring
from evidence.cases.penalties import ARTICLES
from evidence.cases.procedure import ProcedureService
from evidence.cases.procedure_models import CasePenalty, CaseStep, StepKind
from evidence.custody import CustodyAction, CustodyLog
from evidence.models import Evidence, Upload
from infra import error_codes as codes
from infra.db import utcnow
from infra.documents import render_pdf_pages
from infra.ids import uuid7
from infra.objectstore import ObjectStore
from infra.scope import COUNTY_TZ, Principal, Role, require_role
from infra.settings import ProcedureSettings
from patrol.models import County, User

if TYPE_CHECKING:
    from evidence.cases.case_file import CaseFile

__all__ = [
    "MAX_SCAN_BYTES",
    "DocumentFile",
    "DocumentInput",
    "DocumentService",
    "DocumentView",
    "ScanView",
    "case_documents",
    "parties_of",
    "referral_letter",
]

MAX_SCAN_BYTES = 20 * 1024 * 1024
_MAKERS = (Role.CAPTAIN, Role.ADMIN)
_MAX_QA = 200
_MAX_TEXT = 4000
# the step kinds each document belongs to (a document named with a step of another kind is
# refused); the referral letter belongs to the referral, not to a step
_STEPS: dict[DocumentKind, frozenset[StepKind]] = {
    DocumentKind.FILING_APPROVAL: frozenset({StepKind.FILING}),
    DocumentKind.INSPECTION_RECORD: frozenset({StepKind.INVESTIGATION}),
    DocumentKind.INQUIRY_RECORD: frozenset({StepKind.INVESTIGATION}),
    DocumentKind.STOP_ORDER: frozenset({StepKind.CLUE, StepKind.FILING, StepKind.INVESTIGATION}),
    DocumentKind.PENALTY_NOTICE: frozenset({StepKind.NOTICE}),
    DocumentKind.HEARING_NOTICE: frozenset({StepKind.NOTICE, StepKind.HEARING_NOTIFIED}),
    DocumentKind.DECISION: frozenset({StepKind.DECISION}),
    DocumentKind.SERVICE_RECEIPT: frozenset({StepKind.SERVICE}),
    DocumentKind.CLOSING_APPROVAL: frozenset({StepKind.CLOSING}),
    DocumentKind.REFERRAL_LETTER: frozenset(),
}
# documents that state the intended or decided penalty
_PENALTY_KINDS = frozenset(
    {DocumentKind.PENALTY_NOTICE, DocumentKind.HEARING_NOTICE, DocumentKind.DECISION}
)
# documents that print the parties' ID numbers (the others name the parties only)
_ID_KINDS = frozenset({DocumentKind.STOP_ORDER, *_PENALTY_KINDS})
# the stage order of the case file (案卷): a document's place among the others
STAGE_ORDER: tuple[DocumentKind, ...] = (
    DocumentKind.FILING_APPROVAL,
    DocumentKind.STOP_ORDER,
    DocumentKind.INSPECTION_RECORD,
    DocumentKind.INQUIRY_RECORD,
    DocumentKind.PENALTY_NOTICE,
    DocumentKind.HEARING_NOTICE,
    DocumentKind.DECISION,
    DocumentKind.SERVICE_RECEIPT,
    DocumentKind.REFERRAL_LETTER,
    DocumentKind.CLOSING_APPROVAL,
)
_SCAN_TYPES = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
)
_PDF_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")


# -- inputs and views ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DocumentInput:
    """``GenerateCaseDocument``: the kind, the step it belongs to, and an inquiry's
    questions and answers."""

    kind: str
    step_id: uuid.UUID | None = None
    qa: Sequence[tuple[str, str]] = ()


@dataclass(frozen=True, slots=True)
class ScanView:
    id: uuid.UUID
    document_id: uuid.UUID
    media_type: str
    file_name: str
    sha256: str
    size_bytes: int
    pages: int
    attached_by: uuid.UUID
    attached_at: datetime


@dataclass(frozen=True, slots=True)
class DocumentView:
    id: uuid.UUID
    case_id: uuid.UUID
    kind: str
    title: str
    doc_no: str
    step_id: uuid.UUID | None
    referral_id: uuid.UUID | None
    sha256: str
    size_bytes: int
    pages: int
    contains_id_numbers: bool
    generated_by: uuid.UUID
    generated_at: datetime
    facts: dict[str, Any]
    scans: tuple[ScanView, ...] = ()


@dataclass(frozen=True, slots=True)
class DocumentFile:
    """A document's PDF, read back and checked against its recorded hash."""

    view: DocumentView
    data: bytes

    @property
    def file_name(self) -> str:
        return f"{self.view.title}-{self.view.doc_no}.pdf"


def _scan_view(s: DocumentScan) -> ScanView:
    return ScanView(
        s.id, s.document_id, s.media_type, s.file_name, s.sha256, s.size_bytes, s.pages,
        s.attached_by, s.attached_at,
    )  # fmt: skip


def _view(d: CaseDocument, scans: Sequence[DocumentScan] = ()) -> DocumentView:
    return DocumentView(
        id=d.id,
        case_id=d.case_id,
        kind=d.kind,
        title=TITLES[DocumentKind(d.kind)],
        doc_no=d.doc_no,
        step_id=d.step_id,
        referral_id=d.referral_id,
        sha256=d.sha256,
        size_bytes=d.size_bytes,
        pages=d.pages,
        contains_id_numbers=d.contains_id_numbers,
        generated_by=d.generated_by,
        generated_at=d.generated_at,
        facts=dict(d.facts or {}),
        scans=tuple(_scan_view(s) for s in scans),
    )


def _bad(detail: str, **extra: Any) -> InvalidCaseDocumentError:
    return InvalidCaseDocumentError(detail, **extra)


# -- reading the case ----------------------------------------------------------------------------
async def _officers(session: AsyncSession, case: Case, principal: Principal) -> list[str]:
    rows = (
        await session.execute(
            select(User.display_name, CaseTeamMember.role_in_team)
            .join(CaseTeamMember, CaseTeamMember.user_id == User.id)
            .where(
                CaseTeamMember.case_id == case.id,
                CaseTeamMember.role_in_team.in_([TeamRole.LEAD.value, TeamRole.MEMBER.value]),
            )
            .order_by(CaseTeamMember.role_in_team, User.display_name)
        )
    ).all()
    names = [str(name) for name, _ in rows]
    if not names:
        me = await session.get(User, principal.user_id)
        names = [me.display_name] if me is not None else []
    return names


async def _evidence(session: AsyncSession, case: Case) -> list[dict[str, Any]]:
    ids = await case_evidence_ids(session, case)
    if not ids:
        return []
    rows = (
        await session.execute(
            select(Evidence, Upload)
            .join(Upload, Upload.id == Evidence.id)
            .where(Evidence.id.in_(ids), Evidence.county_id == case.county_id)
        )
    ).all()
    by_id = {ev.id: (ev, up) for ev, up in rows}
    return [
        {
            "caption": by_id[i][1].caption,
            "proves": by_id[i][1].proves,
            "captured_at": by_id[i][0].captured_at.astimezone(COUNTY_TZ).strftime("%Y-%m-%d %H:%M"),
            "sha256": by_id[i][0].sha256,
        }
        for i in ids
        if i in by_id
    ]


def _penalty_lines(
    penalty: CasePenalty | None,
) -> tuple[list[dict[str, str]], list[dict[str, Any]], Decimal | None]:
    if penalty is None:
        return [], [], None
    violations = [
        {
            "article": v["article"],
            "law": ARTICLES[v["article"]].law,
            "article_no": ARTICLES[v["article"]].article,
            "title": ARTICLES[v["article"]].title,
            "facts": v.get("facts", ""),
        }
        for v in penalty.violations
    ]
    fines = [
        {
            "article": f["article"],
            "law": ARTICLES[f["article"]].law,
            "article_no": ARTICLES[f["article"]].article,
            "amount": Decimal(f["amount_yuan"]),
        }
        for f in penalty.fines
    ]
    return violations, fines, penalty.fine_total_yuan if penalty.fines else None


def parties_of(case: Case, penalty: CasePenalty | None) -> list[dict[str, Any]]:
    """The parties the documents name: the penalty's, else those the case was opened with."""
    if penalty is not None and penalty.parties:
        return list(penalty.parties)
    return list(case.parties or [])


def _step_facts(step: CaseStep | None) -> tuple[str | None, datetime | None, dict[str, Any]]:
    if step is None:
        return None, None, {}
    return step.kind, step.at, dict(step.details or {})


@dataclass(frozen=True, slots=True)
class _Context:
    """What generating needs besides the session: where to store, the custody key, the
    procedure's settings and the clock."""

    store: ObjectStore
    custody_key: str
    procedure: ProcedureSettings
    now: datetime


async def _latest_no(session: AsyncSession, case: Case, kind: DocumentKind) -> str | None:
    """The number of the case's latest document of ``kind`` (``None``: none generated)."""
    return await session.scalar(
        select(CaseDocument.doc_no)
        .where(CaseDocument.case_id == case.id, CaseDocument.kind == kind.value)
        .order_by(CaseDocument.generated_at.desc())
        .limit(1)
    )


async def _served(session: AsyncSession, case: Case) -> dict[str, str]:
    for kind in (DocumentKind.DECISION, DocumentKind.PENALTY_NOTICE):
        doc_no = await _latest_no(session, case, kind)
        if doc_no is not None:
            return {"title": TITLES[kind], "doc_no": doc_no}
    raise DocumentNotReadyError(
        "a service receipt names the document served: generate the decision first",
        missing="decision_document",
    )


async def _referral_facts(session: AsyncSession, referral: Referral | None) -> dict[str, Any]:
    if referral is None:
        raise DocumentNotReadyError(
            "a referral letter is written from the case's referral", missing="referral"
        )
    team = (
        await session.scalars(select(User.display_name).where(User.id.in_(referral.team_ids)))
    ).all()
    return {
        "report": referral.report,
        "team": sorted(str(t) for t in team),
        "reported_at": referral.reported_at,
        "police_unit": referral.police_unit,
    }


async def _gather(  # noqa: PLR0917 - one document's facts, gathered in one place
    session: AsyncSession,
    principal: Principal,
    case: Case,
    kind: DocumentKind,
    step: CaseStep | None,
    qa: Sequence[tuple[str, str]],
    referral: Referral | None,
    ctx: _Context,
) -> tuple[DocumentData, County]:
    county = await session.get(County, case.county_id)
    assert county is not None
    penalty = await session.get(CasePenalty, case.id)
    if kind in _PENALTY_KINDS and (
        penalty is None or not penalty.violations or not (penalty.fines or penalty.measures)
    ):
        raise DocumentNotReadyError(
            f"{TITLES[kind]} states the penalty: enter it first (PutCasePenalty)",
            missing="penalty",
        )
    if kind is DocumentKind.HEARING_NOTICE and not (penalty and penalty.hearing_triggered):
        raise DocumentNotReadyError(
            "the intended penalty gives the party no right to a hearing",
            missing="hearing_rights",
        )
    steps = list(
        (
            await session.scalars(
                select(CaseStep).where(CaseStep.case_id == case.id).order_by(CaseStep.seq)
            )
        ).all()
    )
    if step is None and kind is not DocumentKind.REFERRAL_LETTER:  # the latest step it fits
        step = next((s for s in reversed(steps) if StepKind(s.kind) in _STEPS[kind]), None)
    procedure = ProcedureService(session, ctx.procedure, clock=lambda: ctx.now)
    deadlines = {
        d.step: d.due_at
        for d in (await procedure.get_procedure(principal, case.id, audit=False)).deadlines
    }
    filing = next((s for s in steps if s.kind == StepKind.FILING.value), None)
    decision = next((s for s in steps if s.kind == StepKind.DECISION.value), None)
    violations, fines, total = _penalty_lines(penalty)
    parties = parties_of(case, penalty)
    step_kind, step_at, details = _step_facts(step)
    data = DocumentData(
        kind=kind,
        doc_no="",
        county=county.name,
        case_no=case.case_no,
        cause=case.cause,
        violation_kind=case.violation_kind,
        lon=await _lon_lat(session, case, 0),
        lat=await _lon_lat(session, case, 1),
        area_m2=float(case.area_total_m2 or 0),
        now=ctx.now,
        parties=parties,
        violations=violations,
        measures=list(penalty.measures) if penalty is not None else [],
        fines=fines,
        fine_total=total,
        officers=await _officers(session, case, principal),
        act_date=case.act_date,
        step_kind=step_kind,
        step_at=step_at,
        step_details=details,
        deadlines=deadlines,
        filed_at=filing.at if filing else None,
        qa=list(qa),
        evidence=await _evidence(session, case)
        if kind in (DocumentKind.INSPECTION_RECORD, DocumentKind.REFERRAL_LETTER)
        else [],
        referral=await _referral_facts(session, referral)
        if kind is DocumentKind.REFERRAL_LETTER
        else None,
        served=await _served(session, case) if kind is DocumentKind.SERVICE_RECEIPT else None,
        decision=None
        if decision is None
        else {
            "option": decision.details.get("option"),
            # the number the step was given, else the decision document's own (文号)
            "decision_no": decision.details.get("decision_no")
            or await _latest_no(session, case, DocumentKind.DECISION),
            "at": decision.at,
        },
    )
    return data, county


async def _lon_lat(session: AsyncSession, case: Case, index: int) -> float:
    from geoalchemy2.functions import ST_X, ST_Y  # noqa: PLC0415 - one small read

    fn = ST_X if index == 0 else ST_Y
    value = await session.scalar(select(fn(Case.location)).where(Case.id == case.id))
    return float(value or 0.0)


def _facts(data: DocumentData, step: CaseStep | None) -> dict[str, Any]:
    """What the document states, kept with it (for lists, tests and the catalogue)."""
    out: dict[str, Any] = {
        "title": TITLES[data.kind],
        "doc_no": data.doc_no,
        "case_no": data.case_no,
        "parties": [str(p.get("name", "")) for p in data.parties],
        "articles": [f"《{v['law']}》{v['article_no']}" for v in data.violations],
        "step_kind": step.kind if step is not None else None,
    }
    if data.fine_total is not None:
        out["fine_total_yuan"] = str(data.fine_total)
        out["fine_total_capitals"] = yuan_capitals(data.fine_total)
    # the last day of each period, as the documents print it
    dates = {
        k: (v.astimezone(COUNTY_TZ) - timedelta(seconds=1)).date().isoformat()
        for k, v in data.deadlines.items()
        if v
    }
    if dates:
        out["deadlines"] = dates
    return out


async def _next_number(
    session: AsyncSession, county_id: uuid.UUID, kind: DocumentKind, year: int
) -> int:
    """The next number of ``kind`` in ``year`` (the counter row stays locked until the
    transaction ends, so numbers come without gaps)."""
    stmt = (
        insert(DocumentCounter)
        .values(county_id=county_id, kind=kind.value, year=year, last_no=1)
        .on_conflict_do_update(
            index_elements=["county_id", "kind", "year"],
            set_={"last_no": DocumentCounter.last_no + 1},
        )
        .returning(DocumentCounter.last_no)
    )
    return int((await session.execute(stmt)).scalar_one())


async def _generate(  # noqa: PLR0917
    session: AsyncSession,
    principal: Principal,
    case: Case,
    kind: DocumentKind,
    step: CaseStep | None,
    qa: Sequence[tuple[str, str]],
    referral: Referral | None,
    ctx: _Context,
) -> CaseDocument:
    data, county = await _gather(session, principal, case, kind, step, qa, referral, ctx)
    year = ctx.now.astimezone(COUNTY_TZ).year
    seq = await _next_number(session, case.county_id, kind, year)
    doc_no = document_number(county.name, kind, year, seq)
    data = _with_number(data, doc_no)
    pdf, pages = await asyncio.to_thread(render_pdf_pages, render_document(data), css=CSS)
    doc_id = uuid7()
    key = f"documents/{case.county_id}/{case.id}/{doc_id}.pdf"
    await ctx.store.put_bytes(key, pdf, content_type="application/pdf")
    digest = hashlib.sha256(pdf).hexdigest()
    linked = step  # a document found its step by kind only when none was named: not linked
    doc = CaseDocument(
        id=doc_id,
        county_id=case.county_id,
        case_id=case.id,
        kind=kind.value,
        doc_no=doc_no,
        year=year,
        seq=seq,
        step_id=linked.id if linked is not None else None,
        referral_id=referral.id if referral is not None else None,
        object_key=key,
        sha256=digest,
        size_bytes=len(pdf),
        pages=pages,
        contains_id_numbers=kind in _ID_KINDS and any(p.get("id_no") for p in data.parties),
        facts=_facts(data, linked),
        generated_by=principal.user_id,
        generated_at=ctx.now,
    )
    session.add(doc)
    await session.flush()
    if linked is not None:
        linked.document_id = doc.id
    await CustodyLog(ctx.custody_key.encode("utf-8")).append(
        session,
        county_id=case.county_id,
        action=CustodyAction.DOCUMENT_GENERATED,
        subject_id=doc.id,
        actor_id=principal.user_id,
        details={
            "case_id": str(case.id),
            "kind": kind.value,
            "doc_no": doc_no,
            "sha256": digest,
            "size": len(pdf),
            "step_id": str(linked.id) if linked is not None else None,
        },
        at=ctx.now,
    )
    record_event(
        session, case, "document_generated", principal.user_id,
        {"document_id": str(doc.id), "kind": kind.value, "doc_no": doc_no},
        referral_id=referral.id if referral is not None else None, at=ctx.now,
    )  # fmt: skip
    await session.flush()
    return doc


def _with_number(data: DocumentData, doc_no: str) -> DocumentData:
    return replace(data, doc_no=doc_no)


def _kind(value: str) -> DocumentKind:
    try:
        return DocumentKind(value)
    except ValueError as exc:
        allowed = ", ".join(k.value for k in DocumentKind)
        raise _bad(f"kind must be one of {allowed}", field="kind") from exc


def _qa(kind: DocumentKind, qa: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    cleaned = [(q.strip(), a.strip()) for q, a in qa]
    if kind is not DocumentKind.INQUIRY_RECORD:
        if cleaned:
            raise _bad("only an inquiry record (inquiry_record) takes questions", field="qa")
        return []
    if not cleaned or len(cleaned) > _MAX_QA:
        raise _bad(f"an inquiry record takes 1 to {_MAX_QA} questions and answers", field="qa")
    for i, (q, a) in enumerate(cleaned):
        if not q or len(q) > _MAX_TEXT or len(a) > _MAX_TEXT:
            raise _bad(f"qa[{i}]: a question (and its answer) of 1 to {_MAX_TEXT} characters",
                       field=f"qa[{i}]")  # fmt: skip
    return cleaned


async def referral_letter(
    session: AsyncSession,
    principal: Principal,
    case: Case,
    referral: Referral,
    *,
    store: ObjectStore,
    custody_key: str,
    now: datetime,
    procedure: ProcedureSettings | None = None,
) -> CaseDocument:
    """The referral's 涉嫌犯罪案件移送书: the latest generated for it, else a new one from the
    referral's data (the exporter's act: no role of its own is needed)."""
    found = await session.scalar(
        select(CaseDocument)
        .where(
            CaseDocument.case_id == case.id,
            CaseDocument.kind == DocumentKind.REFERRAL_LETTER.value,
            CaseDocument.referral_id == referral.id,
        )
        .order_by(CaseDocument.generated_at.desc())
        .limit(1)
    )
    if found is not None:
        return found
    ctx = _Context(store, custody_key, procedure or ProcedureSettings(), now)
    return await _generate(
        session, principal, case, DocumentKind.REFERRAL_LETTER, None, (), referral, ctx
    )


async def case_documents(
    session: AsyncSession, case: Case
) -> list[tuple[CaseDocument, list[DocumentScan]]]:
    """The case's documents in the case file's stage order (then by time), each with its
    scans."""
    docs = list(
        (
            await session.scalars(
                select(CaseDocument)
                .where(CaseDocument.case_id == case.id, CaseDocument.county_id == case.county_id)
                .order_by(CaseDocument.generated_at, CaseDocument.id)
            )
        ).all()
    )
    docs.sort(key=lambda d: STAGE_ORDER.index(DocumentKind(d.kind)))
    scans: dict[uuid.UUID, list[DocumentScan]] = {d.id: [] for d in docs}
    if docs:
        for s in (
            await session.scalars(
                select(DocumentScan)
                .where(DocumentScan.document_id.in_(list(scans)))
                .order_by(DocumentScan.attached_at, DocumentScan.id)
            )
        ).all():
            scans[s.document_id].append(s)
    return [(d, scans[d.id]) for d in docs]


# -- the service ---------------------------------------------------------------------------------
class DocumentService:
    """One request's access to the case documents (one session, committed by the caller)."""

    def __init__(
        self,
        session: AsyncSession,
        store: ObjectStore,
        *,
        custody_key: str,
        procedure: ProcedureSettings,
        keys: PackageKeyring | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.session = session
        self._store = store
        self._custody_key = custody_key
        self._procedure = procedure
        self._keys = keys
        self._clock = clock

    async def export_case_file(self, principal: Principal, case_id: uuid.UUID) -> CaseFile:
        """The case's 案卷 (captains, admins), logged before it streams."""
        from evidence.cases.case_file import export_case_file  # noqa: PLC0415 - it reads ours

        return await export_case_file(
            self.session, principal, case_id, store=self._store,
            custody_key=self._custody_key, keys=self._keys, now=self._clock(),
        )  # fmt: skip

    def _ctx(self) -> _Context:
        return _Context(self._store, self._custody_key, self._procedure, self._clock())

    async def generate(
        self, principal: Principal, case_id: uuid.UUID, data: DocumentInput
    ) -> DocumentView:
        """Generate, number, store and log one document (captains, admins)."""
        require_role(principal, *_MAKERS, action="generate case documents")
        case = await load_case(self.session, principal, case_id, for_update=True)
        kind = _kind(data.kind)
        qa = _qa(kind, data.qa)
        step = None
        if data.step_id is not None:
            step = await self.session.scalar(
                select(CaseStep).where(CaseStep.id == data.step_id, CaseStep.case_id == case.id)
            )
            if step is None or StepKind(step.kind) not in _STEPS[kind]:
                allowed = ", ".join(sorted(k.value for k in _STEPS[kind])) or "none"
                raise _bad(
                    f"stepId must name a step of this case of kind: {allowed}",
                    field="stepId",
                    allowed_steps=sorted(k.value for k in _STEPS[kind]),
                )
        referral = None
        if kind is DocumentKind.REFERRAL_LETTER:
            referral = await self.session.scalar(
                select(Referral)
                .where(Referral.case_id == case.id)
                .order_by(Referral.created_at.desc())
                .limit(1)
            )
        ctx = self._ctx()
        doc = await _generate(self.session, principal, case, kind, step, qa, referral, ctx)
        return _view(doc)

    async def _load(
        self, principal: Principal, case_id: uuid.UUID, document_id: uuid.UUID
    ) -> tuple[Case, CaseDocument]:
        case = await load_case(self.session, principal, case_id)
        doc = await self.session.scalar(
            select(CaseDocument).where(
                CaseDocument.id == document_id,
                CaseDocument.case_id == case.id,
                CaseDocument.county_id == principal.county_id,
            )
        )
        if doc is None:
            raise CaseDocumentNotFoundError("case document not found", document_id=str(document_id))
        return case, doc

    async def _scans(self, doc: CaseDocument) -> list[DocumentScan]:
        return list(
            (
                await self.session.scalars(
                    select(DocumentScan)
                    .where(DocumentScan.document_id == doc.id)
                    .order_by(DocumentScan.attached_at, DocumentScan.id)
                )
            ).all()
        )

    async def list_documents(self, principal: Principal, case_id: uuid.UUID) -> list[DocumentView]:
        """The case's documents in the case file's order (whoever may read the case)."""
        case = await load_case(self.session, principal, case_id)
        return [_view(d, s) for d, s in await case_documents(self.session, case)]

    async def get_document(
        self, principal: Principal, case_id: uuid.UUID, document_id: uuid.UUID
    ) -> DocumentView:
        _, doc = await self._load(principal, case_id, document_id)
        return _view(doc, await self._scans(doc))

    async def download(
        self, principal: Principal, case_id: uuid.UUID, document_id: uuid.UUID
    ) -> DocumentFile:
        """The PDF, checked against its hash; logged as a ``downloaded`` custody entry.
        Joint-team members get no document carrying an ID number."""
        case, doc = await self._load(principal, case_id, document_id)
        if principal.has_role(Role.JOINT_TEAM) and doc.contains_id_numbers:
            raise DocumentRestrictedError(
                "the document carries a party's ID number", document_id=str(doc.id)
            )
        data = b"".join([c async for c in self._store.aiter_chunks(doc.object_key)])
        if hashlib.sha256(data).hexdigest() != doc.sha256:
            raise PackageSourceMismatchError(
                "the stored document no longer matches its hash", path=doc.object_key
            )
        await CustodyLog(self._custody_key.encode("utf-8")).append(
            self.session,
            county_id=case.county_id,
            action=CustodyAction.DOWNLOADED,
            subject_id=doc.id,
            actor_id=principal.user_id,
            details={"case_id": str(case.id), "doc_no": doc.doc_no, "sha256": doc.sha256},
            at=self._clock(),
        )
        return DocumentFile(_view(doc), data)

    async def attach_scan(
        self,
        principal: Principal,
        case_id: uuid.UUID,
        document_id: uuid.UUID,
        path: Path,
        *,
        file_name: str,
    ) -> DocumentView:
        """Store a signed/stamped scan of the document (captains, admins), hashed and in
        custody."""
        require_role(principal, *_MAKERS, action="attach document scans")
        case, doc = await self._load(principal, case_id, document_id)
        size = (await asyncio.to_thread(path.stat)).st_size
        if size == 0 or size > MAX_SCAN_BYTES:
            raise _bad(
                "a scan is 1 byte to 20 MiB", code=codes.INVALID_DOCUMENT_SCAN, field="file",
                max_bytes=MAX_SCAN_BYTES, size=size,
            )  # fmt: skip
        head = await asyncio.to_thread(_head, path)
        found = next(((t, ext) for magic, t, ext in _SCAN_TYPES if head.startswith(magic)), None)
        if found is None:
            raise _bad(
                "a scan is a PDF, JPEG or PNG file", code=codes.INVALID_DOCUMENT_SCAN,
                field="file",
            )  # fmt: skip
        media_type, ext = found
        scan_id = uuid7()
        key = f"documents/{case.county_id}/{case.id}/{doc.id}/scans/{scan_id}.{ext}"
        digest = hashlib.sha256()
        await self._store.put_file(key, path, content_type=media_type, hasher=digest)
        pages = await asyncio.to_thread(_pages, path) if ext == "pdf" else 1
        now = self._clock()
        scan = DocumentScan(
            id=scan_id, county_id=case.county_id, document_id=doc.id, case_id=case.id,
            object_key=key, media_type=media_type, file_name=(file_name or f"scan.{ext}")[:200],
            sha256=digest.hexdigest(), size_bytes=size, pages=pages,
            attached_by=principal.user_id, attached_at=now,
        )  # fmt: skip
        self.session.add(scan)
        await self.session.flush()
        await CustodyLog(self._custody_key.encode("utf-8")).append(
            self.session,
            county_id=case.county_id,
            action=CustodyAction.DOCUMENT_SCAN_ATTACHED,
            subject_id=doc.id,
            actor_id=principal.user_id,
            details={
                "case_id": str(case.id),
                "scan_id": str(scan_id),
                "sha256": scan.sha256,
                "size": size,
                "media_type": media_type,
                "step_id": str(doc.step_id) if doc.step_id else None,
            },
            at=now,
        )
        return _view(doc, await self._scans(doc))


def _head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(16)


def _pages(path: Path) -> int:
    """The pages of a scanned PDF, counted from its page objects (at least 1; a PDF that
    keeps them in compressed object streams counts as 1)."""
    return max(len(_PDF_PAGE.findall(path.read_bytes())), 1)
