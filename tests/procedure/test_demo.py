"""The demo cases at every stage of the penalty procedure: a hearing held, an extension, a
filing overdue (with its alert), one case at each further stage up to a closed one with its
documents, and the referred case of the referral demo with its 移送书."""

from __future__ import annotations

import hashlib
import uuid

from litestar import Litestar
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.cases.demo import DEMO_CASE_NOS, seed_demo_cases
from evidence.cases.document_models import CaseDocument
from evidence.cases.models import Case
from evidence.cases.procedure import ProcedureService, raise_overdue_alerts
from evidence.cases.procedure_demo import (
    CLOSED_CASE_DOCUMENTS,
    CLOSED_CASE_NO,
    STAGE_CASES,
    seed_demo_procedure,
)
from evidence.cases.procedure_models import CaseStep
from evidence.custody import CustodyLog
from evidence.models import CustodyEntry
from infra.objectstore import S3ObjectStore
from infra.settings import ProcedureSettings, Settings
from patrol.field_models import PatrolAlert
from tests import clock
from tests.worlds import build_world, fresh_province


async def _counts(db: AsyncSession, county_id: uuid.UUID) -> tuple[int, ...]:
    out = []
    for model in (Case, CaseStep, CaseDocument, CustodyEntry):
        n = await db.scalar(
            select(func.count()).select_from(model).where(model.county_id == county_id)
        )
        out.append(int(n or 0))
    return tuple(out)


async def test_demo_cases_walk_the_procedure(
    app: Litestar,
    session_factory: async_sessionmaker[AsyncSession],
    store: S3ObjectStore,
    settings: Settings,
) -> None:
    world = await build_world(session_factory, app.state.tokens, province=fresh_province())
    procedure, now = ProcedureSettings(), clock.NOW
    key = settings.evidence.package_signing_key
    async with session_factory() as db:
        farmland, mining, late = await seed_demo_cases(db, world.county_id)
        touched = await seed_demo_procedure(
            db, world.county_id, procedure, now=now, store=store, custody_key=key
        )
        raised, _ = await raise_overdue_alerts(db, now, procedure)
        await db.commit()
    assert touched[:2] == [farmland, mining] and raised >= 1
    async with session_factory() as db:
        service = ProcedureService(db, procedure, clock=lambda: now)
        heard = await service.get_procedure(world.captain, farmland)
        assert (heard.stage, heard.major) == ("notice", True)
        assert "decision" in heard.next_steps
        decision = next(d for d in heard.deadlines if d.step == "decision")
        assert decision.days_paused == 18.0  # the hearing, asked 28 days ago, held 10 days ago
        extended = await service.get_procedure(world.captain, mining)
        decision = next(d for d in extended.deadlines if d.step == "decision")
        assert (decision.days_allowed, decision.days_paused) == (120, 20.0)
        overdue = await service.get_procedure(world.captain, touched[2])
        filing = next(d for d in overdue.deadlines if d.step == "filing")
        assert (overdue.stage, filing.overdue) == ("clue", True)
        referred = await service.get_procedure(world.captain, late)
        assert referred.status == "referred"

        # a case at every stage, and only the overdue one is late
        ids = dict(
            (await db.execute(select(Case.case_no, Case.id).where(Case.id.in_(touched)))).all()
        )
        stages: dict[str, str] = {}
        statuses: dict[str, str] = {}
        for case_no, case_id in ids.items():
            view = await service.get_procedure(world.captain, case_id)
            stages[case_no], statuses[case_no] = view.stage, view.status
            late_duties = [d.step for d in view.deadlines if d.overdue or d.late]
            assert late_duties == (["filing"] if view.stage == "clue" else []), case_no
        assert {stage: stages[no] for stage, no in STAGE_CASES.items()} == {
            s: s for s in STAGE_CASES
        }
        assert set(STAGE_CASES) == {
            "clue", "filing", "investigation", "review", "notice", "decision", "service",
            "execution", "closing",
        }  # fmt: skip
        assert stages["示范-007"] == "notice"  # notified, its statement still due
        moved = ("filing", "decision", "execution", "closing")
        assert [statuses[STAGE_CASES[s]] for s in moved] == [
            "filed", "decided", "executing", "closed",
        ]  # fmt: skip
        closed = await service.get_procedure(world.captain, ids[CLOSED_CASE_NO])
        assert closed.next_steps == () and closed.penalty is not None

        # the closed case's documents and the referral letter: stored, hashed, in custody
        docs = (
            await db.scalars(
                select(CaseDocument)
                .where(CaseDocument.county_id == world.county_id)
                .order_by(CaseDocument.generated_at)
            )
        ).all()
        by_case = {(d.case_id, d.kind) for d in docs}
        assert [d.kind for d in docs if d.case_id == ids[CLOSED_CASE_NO]] == list(
            CLOSED_CASE_DOCUMENTS
        )
        assert set(CLOSED_CASE_DOCUMENTS) == {
            "filing_approval", "inspection_record", "penalty_notice", "decision",
            "service_receipt", "closing_approval",
        }  # fmt: skip
        assert (late, "referral_letter") in by_case
        assert len(docs) == len(CLOSED_CASE_DOCUMENTS) + 1
        logged: dict[uuid.UUID | None, str] = dict(
            (
                await db.execute(
                    select(CustodyEntry.subject_id, CustodyEntry.details["sha256"].astext).where(
                        CustodyEntry.county_id == world.county_id,
                        CustodyEntry.action == "document_generated",
                    )
                )
            ).all()
        )
        for doc in docs:
            assert logged[doc.id] == doc.sha256
            pdf = await store.read_range(doc.object_key, 0, doc.size_bytes - 1)
            assert pdf.startswith(b"%PDF-") and hashlib.sha256(pdf).hexdigest() == doc.sha256
            if doc.step_id is not None:
                step = await db.get(CaseStep, doc.step_id)
                assert step is not None and step.document_id == doc.id
        assert (await CustodyLog(key.encode()).verify(db, world.county_id)).ok
        alerts = (
            await db.scalars(
                select(PatrolAlert.dedupe_key).where(
                    PatrolAlert.county_id == world.county_id,
                    PatrolAlert.kind == "case_step_overdue",
                )
            )
        ).all()
        assert alerts == [f"case_step_overdue:{touched[2]}:filing"]
        # a second seeding adds nothing: no case, step, document or custody entry
        before = await _counts(db, world.county_id)
        again = await seed_demo_procedure(
            db, world.county_id, procedure, now=now, store=store, custody_key=key
        )
        assert again == [] and await _counts(db, world.county_id) == before
    assert DEMO_CASE_NOS[2] not in STAGE_CASES.values()
