"""Cases, threshold screening, flags, criminal referrals and evidence packages (issue 7).

Who sees what is the domain's rule (``evidence.access``): captains and admins see every case
of the county, the security squad flagged, suggested and referred cases, inspectors and
joint-team members the cases they opened or whose team they are on; another county's case
or referral does not exist (404).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated
from urllib.parse import quote

from litestar import Controller, get, patch, post, put
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK

from api.deps import Caller, Db, Settings_
from evidence.cases import cases as cs
from evidence.cases import package as pk
from evidence.cases import referrals as rf
from evidence.cases import screening as sc
from mobile_contract.v1 import cases as c

__all__ = [
    "CaseController",
    "FlagController",
    "ReferralController",
    "ReferralRuleController",
]

Limit = Annotated[int, QueryParameter(ge=1, le=500)]
Offset = Annotated[int, QueryParameter(ge=0, le=1_000_000)]


# -- mapping -------------------------------------------------------------------------------------
def _party(p: cs.Party) -> c.Party:
    return c.Party(
        name=p.name, kind=c.PartyKindName(p.kind), id_no=p.id_no, address=p.address, phone=p.phone
    )


def _parties(parties: Sequence[c.Party]) -> list[cs.Party]:
    return [
        cs.Party(p.name, kind=p.kind.value, id_no=p.id_no, address=p.address, phone=p.phone)
        for p in parties
    ]


def _penalties(penalties: Sequence[c.PriorPenalty]) -> list[cs.PriorPenalty]:
    return [cs.PriorPenalty(p.kind.value, p.decided_on, p.decision_no) for p in penalties]


def _materials(items: Sequence[c.Material]) -> list[rf.Material]:
    return [rf.Material(m.kind.value, m.title, m.reference, m.quantity) for m in items]


def _material(m: rf.Material) -> c.Material:
    return c.Material(
        kind=c.MaterialKindName(m.kind), title=m.title, reference=m.reference, quantity=m.quantity
    )


def _flag(f: cs.FlagView) -> c.Flag:
    return c.Flag(
        id=f.id,
        case_id=f.case_id,
        finding_id=f.finding_id,
        reason=f.reason,
        flagged_by=f.flagged_by,
        flagged_at=f.flagged_at,
    )


def _suggestion(s: cs.SuggestionView) -> c.Suggestion:
    return c.Suggestion(
        id=s.id,
        rule_id=s.rule_id,
        rule_code=s.rule_code,
        crime=s.crime,
        level=s.level,
        metric=s.metric,
        value=s.value,
        threshold=s.threshold,
        unit=s.unit,
        citation=s.citation,
        message=s.message,
        created_at=s.created_at,
    )


def _areas(a: cs.Areas) -> c.Areas:
    return c.Areas(
        total_m2=a.total_m2,
        total_mu=a.total_mu,
        cultivated_m2=a.cultivated_m2,
        cultivated_mu=a.cultivated_mu,
        basic_farmland_m2=a.basic_farmland_m2,
        basic_farmland_mu=a.basic_farmland_mu,
        by_class=a.by_class,
        source=a.source,
    )


def _case(v: cs.CaseView) -> c.Case:
    return c.Case(
        id=v.id,
        case_no=v.case_no,
        cause=v.cause,
        violation_kind=c.ViolationKindName(v.violation_kind),
        status=c.CaseStatusName(v.status),
        suspended_from=c.CaseStatusName(v.suspended_from) if v.suspended_from else None,
        status_changed_at=v.status_changed_at,
        parties=[_party(p) for p in v.parties],
        source_kind=c.SourceKindName(v.source_kind),
        source_id=v.source_id,
        act_date=v.act_date,
        lon=v.lon,
        lat=v.lat,
        surveyed_geometry=v.surveyed_geometry,
        surveyed_at=v.surveyed_at,
        areas=_areas(v.areas),
        declared_areas_m2=v.declared_areas_m2,
        ore_value_yuan=v.ore_value_yuan,
        destroyed_value_yuan=v.destroyed_value_yuan,
        illegal_gain_yuan=v.illegal_gain_yuan,
        special_area=v.special_area,
        prior_penalties=[
            c.PriorPenalty(
                kind=c.PenaltyKindName(p.kind), decided_on=p.decided_on, decision_no=p.decision_no
            )
            for p in v.prior_penalties
        ],
        evidence_ids=list(v.evidence_ids),
        suggestions=[_suggestion(s) for s in v.suggestions],
        flagged=v.flagged,
        flags=[_flag(f) for f in v.flags],
        referral_ids=list(v.referral_ids),
        opened_by=v.opened_by,
        screened_at=v.screened_at,
        created_at=v.created_at,
        updated_at=v.updated_at,
        team=[
            c.CaseTeamMember(
                user_id=m.user_id,
                role_in_team=c.TeamRoleName(m.role_in_team),
                display_name=m.display_name,
            )
            for m in v.team
        ],
        referred_from=c.CaseStatusName(v.referred_from) if v.referred_from else None,
    )


def _case_input(d: c.CaseCreate) -> cs.CaseInput:
    return cs.CaseInput(
        cause=d.cause,
        violation_kind=d.violation_kind.value,
        lon=d.lon,
        lat=d.lat,
        source_kind=d.source_kind.value,
        source_id=d.source_id,
        case_no=d.case_no,
        parties=_parties(d.parties),
        act_date=d.act_date,
        surveyed_geometry=d.surveyed_geometry,
        declared_areas_m2=d.declared_areas_m2,
        ore_value_yuan=d.ore_value_yuan,
        destroyed_value_yuan=d.destroyed_value_yuan,
        illegal_gain_yuan=d.illegal_gain_yuan,
        special_area=d.special_area,
        prior_penalties=_penalties(d.prior_penalties),
        evidence_ids=d.evidence_ids,
    )


def _case_changes(d: c.CaseUpdate) -> cs.CaseChanges:
    return cs.CaseChanges(
        cause=d.cause,
        violation_kind=d.violation_kind.value if d.violation_kind else None,
        parties=None if d.parties is None else _parties(d.parties),
        location=None if d.location is None else (d.location.lon, d.location.lat),
        act_date=d.act_date,
        surveyed_geometry=d.surveyed_geometry,
        declared_areas_m2=d.declared_areas_m2,
        ore_value_yuan=d.ore_value_yuan,
        destroyed_value_yuan=d.destroyed_value_yuan,
        illegal_gain_yuan=d.illegal_gain_yuan,
        special_area=d.special_area,
        prior_penalties=None if d.prior_penalties is None else _penalties(d.prior_penalties),
        add_evidence_ids=d.add_evidence_ids,
    )


def _rule(r: sc.RuleView) -> c.Rule:
    return c.Rule(
        id=r.id,
        province_code=r.province_code,
        code=r.code,
        violation_kind=c.ViolationKindName(r.violation_kind),
        crime=r.crime,
        article=r.article,
        level=r.level,
        metric=r.metric,
        threshold=r.threshold,
        unit=r.unit,
        condition=r.condition,
        citation=r.citation,
        description=r.description,
        effective_from=r.effective_from,
        effective_to=r.effective_to,
    )


def _rule_input(d: c.RuleCreate) -> sc.RuleInput:
    return sc.RuleInput(
        code=d.code,
        violation_kind=d.violation_kind.value,
        crime=d.crime,
        article=d.article,
        metric=d.metric,
        threshold=d.threshold,
        unit=d.unit,
        citation=d.citation,
        effective_from=d.effective_from,
        effective_to=d.effective_to,
        level=d.level,
        condition=d.condition,
        description=d.description,
    )


def _referral(v: rf.ReferralView) -> c.Referral:
    return c.Referral(
        id=v.id,
        case_id=v.case_id,
        case_no=v.case_no,
        status=c.ReferralStatusName(v.status),
        team_ids=list(v.team_ids),
        report=v.report,
        reported_by=v.reported_by,
        reported_at=v.reported_at,
        decision_due_at=v.decision_due_at,
        decision=v.decision,
        decided_by=v.decided_by,
        decided_at=v.decided_at,
        decision_note=v.decision_note,
        transfer_due_at=v.transfer_due_at,
        transferred_at=v.transferred_at,
        police_unit=v.police_unit,
        materials=[_material(m) for m in v.materials],
        receipt_due_at=v.receipt_due_at,
        receipt_at=v.receipt_at,
        receipt_no=v.receipt_no,
        police_decision_due_at=v.police_decision_due_at,
        police_decision=v.police_decision,
        police_decided_at=v.police_decided_at,
        police_decision_no=v.police_decision_no,
        police_reason=v.police_reason,
        reconsideration_due_at=v.reconsideration_due_at,
        reconsideration_requested_at=v.reconsideration_requested_at,
        reconsideration_reason=v.reconsideration_reason,
        reconsideration_decision_due_at=v.reconsideration_decision_due_at,
        reconsideration_result=v.reconsideration_result,
        reconsideration_decided_at=v.reconsideration_decided_at,
        handover_due_at=v.handover_due_at,
        handed_over_at=v.handed_over_at,
        handover_items=[_material(m) for m in v.handover_items],
        next_step=c.ReferralStepName(v.next_step) if v.next_step else None,
        next_due_at=v.next_due_at,
        overdue=v.overdue,
        closed_at=v.closed_at,
        late=v.late,
        steps=[_step_time(t) for t in v.steps],
    )


def _step_time(t: rf.StepTiming) -> c.ReferralStepTime:
    return c.ReferralStepTime(
        step=c.ReferralStepName(t.step),
        due_at=t.due_at,
        done_at=t.done_at,
        late=t.late,
        late_by_s=t.late_by_s,
    )


def _overdue(o: rf.OverdueStep) -> c.OverdueStep:
    return c.OverdueStep(
        referral_id=o.referral_id,
        case_id=o.case_id,
        case_no=o.case_no,
        status=c.ReferralStatusName(o.status),
        step=c.ReferralStepName(o.step),
        due_at=o.due_at,
        overdue_s=o.overdue_s,
    )


def _package_stream(package: pk.ReferralPackage) -> Stream:
    name = package.file_name
    plain = "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "-_." else "_" for ch in name)
    return Stream(
        package,
        media_type="application/zip",
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"
            ),
            "X-Package-Id": str(package.package_id),
            "X-Manifest-Sha256": package.manifest_sha256,
        },
    )


# -- cases ---------------------------------------------------------------------------------------
class CaseController(Controller):
    path = "/cases"
    tags = ["cases"]  # noqa: RUF012

    @get("", operation_id="ListCases", summary="Cases the caller may see")
    async def list_cases(
        self,
        db: Db,
        principal: Caller,
        *,
        status: FromQuery[list[c.CaseStatusName] | None] = None,
        violation_kind: FromQuery[c.ViolationKindName | None] = None,
        flagged: FromQuery[bool | None] = None,
        referred: FromQuery[bool | None] = None,
        suggested: FromQuery[bool | None] = None,
        opened_since: FromQuery[datetime | None] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> list[c.Case]:
        """Newest first. The squad sees flagged, suggested and referred cases; ``suggested`` keeps
        cases with (or without) a current referral suggestion."""
        rows = await cs.list_cases(
            db,
            principal,
            status=[s.value for s in status] if status else None,
            violation_kind=violation_kind.value if violation_kind else None,
            flagged=flagged,
            referred=referred,
            suggested=suggested,
            opened_since=opened_since,
            limit=limit,
            offset=offset,
        )
        return [_case(v) for v in rows]

    @post("", operation_id="OpenCase", summary="Open a case (inspectors, captains, admins)")
    async def open_case(self, data: JSONBody[c.CaseCreate], db: Db, principal: Caller) -> c.Case:
        """From a finding, a change polygon, a tip-off or on its own; the surveyed polygon is
        overlaid for areas by land class and the case is screened against the thresholds."""
        return _case(await cs.open_case(db, principal, _case_input(data)))

    @get("/{case_id:uuid}", operation_id="GetCase", summary="One case")
    async def get_case(self, case_id: FromPath[uuid.UUID], db: Db, principal: Caller) -> c.Case:
        """Areas, evidence ids, current referral suggestions, flags and referrals."""
        return _case(await cs.get_case(db, principal, case_id))

    @patch("/{case_id:uuid}", operation_id="UpdateCase", summary="Change what is known")
    async def update_case(
        self, case_id: FromPath[uuid.UUID], data: JSONBody[c.CaseUpdate], db: Db, principal: Caller
    ) -> c.Case:
        """Geometry, areas, values or history re-screen the case; finished cases are
        read-only (409 ``case_closed``)."""
        return _case(await cs.update_case(db, principal, case_id, _case_changes(data)))

    @post(
        "/{case_id:uuid}/evidence",
        operation_id="LinkCaseEvidence",
        status_code=HTTP_200_OK,
        summary="Link evidence to the case",
    )
    async def link_evidence(
        self,
        case_id: FromPath[uuid.UUID],
        data: JSONBody[c.CaseEvidenceLink],
        db: Db,
        principal: Caller,
    ) -> c.Case:
        """Evidence of the county; ids already linked are ignored (422 ``unknown_evidence``
        lists ids that are not evidence here)."""
        return _case(await cs.link_evidence(db, principal, case_id, data.evidence_ids))

    @put("/{case_id:uuid}/team", operation_id="SetCaseTeam", summary="Assign the case team")
    async def set_team(
        self, case_id: FromPath[uuid.UUID], data: JSONBody[c.CaseTeam], db: Db, principal: Caller
    ) -> c.Case:
        """Captains and admins: lead officer, members and joint police/land members. Team
        members see the case and all its evidence; joint members attach evidence to it."""
        members = [cs.TeamMember(m.user_id, m.role_in_team.value) for m in data.members]
        return _case(await cs.set_case_team(db, principal, case_id, members))

    @post(
        "/{case_id:uuid}/status",
        operation_id="ChangeCaseStatus",
        status_code=HTTP_200_OK,
        summary="Move the case along its workflow (captains, admins)",
    )
    async def change_status(
        self,
        case_id: FromPath[uuid.UUID],
        data: JSONBody[c.CaseStatusChange],
        db: Db,
        principal: Caller,
    ) -> c.Case:
        """clue → filed → investigating → decided → executing → closed, with suspend,
        terminate and withdraw; other moves answer 409 ``invalid_status_transition``. A
        ``referred`` case follows its referral: no move while the referral is open; after
        the police took it, close, terminate or resume the status it was referred from."""
        view = await cs.change_status(db, principal, case_id, data.status.value, reason=data.reason)
        return _case(view)

    @post(
        "/{case_id:uuid}/referrals",
        operation_id="CreateReferral",
        summary="Refer a flagged case: the team's report to the head (squad, captains)",
    )
    async def create_referral(
        self,
        case_id: FromPath[uuid.UUID],
        data: JSONBody[c.ReferralCreate],
        db: Db,
        principal: Caller,
    ) -> c.Referral:
        """Needs a flag, no open referral, an unfinished case (409 ``case_closed``) and a
        team of at least two officers (422 ``team_too_small``); the head's decision is due in
        3 days. The case becomes ``referred`` and follows the referral from now on."""
        view = await rf.create_referral(
            db, principal, case_id, team_ids=data.team_ids, report=data.report, at=data.at
        )
        return _referral(view)

    @post(
        "/{case_id:uuid}/package",
        operation_id="ExportReferralPackage",
        status_code=HTTP_200_OK,
        summary="Download the verifiable evidence package (ZIP)",
        media_type="application/zip",
        opt={"skip_compression": True},
    )
    async def export_package(
        self,
        *,
        case_id: FromPath[uuid.UUID],
        db: Db,
        principal: Caller,
        settings: Settings_,
        state: State,
        referral_id: FromQuery[uuid.UUID | None] = None,
    ) -> Stream:
        """Originals byte-exact, a signed manifest, GeoJSON and the evidence sheet.

        The export is logged (custody entries, the package record) and committed before the
        first byte is sent; the stream then reads the object store only, never the database.
        A case without evidence answers 409 ``case_has_no_evidence``.
        """
        package = await pk.export_referral_package(
            db,
            principal,
            case_id,
            store=state.store,
            signing_key=settings.evidence.package_signing_key,
            referral_id=referral_id,
        )
        return _package_stream(package)


# -- rules ---------------------------------------------------------------------------------------
class ReferralRuleController(Controller):
    path = "/referral-rules"
    tags = ["cases"]  # noqa: RUF012

    @get("", operation_id="ListReferralRules", summary="Thresholds in force in the province")
    async def list_rules(
        self,
        db: Db,
        principal: Caller,
        as_of: FromQuery[date | None] = None,
        code: FromQuery[list[str] | None] = None,
    ) -> list[c.Rule]:
        """The province's own rules and the national figures they do not replace, on
        ``as_of`` (default today)."""
        return [_rule(r) for r in await sc.list_rules(db, principal, as_of=as_of, codes=code)]

    @post("", operation_id="AddReferralRule", summary="Add a provincial threshold (admins)")
    async def add_rule(self, data: JSONBody[c.RuleCreate], db: Db, principal: Caller) -> c.Rule:
        """For the caller's province from ``effectiveFrom``; cases are re-screened when they
        next change."""
        return _rule(await sc.add_rule(db, principal, _rule_input(data)))


# -- flags ---------------------------------------------------------------------------------------
class FlagController(Controller):
    path = "/referral-flags"
    tags = ["cases"]  # noqa: RUF012

    @get("", operation_id="ListFlags", summary="Referral flags of the county")
    async def list_flags(
        self, db: Db, principal: Caller, findings_only: FromQuery[bool] = False
    ) -> list[c.Flag]:
        """Newest first (squad, captains, admins)."""
        rows = await rf.list_flags(db, principal, findings_only=findings_only)
        return [_flag(f) for f in rows]

    @post("", operation_id="FlagForReferral", summary="Flag a case or finding (squad, captains)")
    async def flag(self, data: JSONBody[c.FlagCreate], db: Db, principal: Caller) -> c.Flag:
        """Exactly one of ``caseId`` and ``findingId``; flagging again returns the flag."""
        view = await rf.flag_for_referral(
            db, principal, reason=data.reason, case_id=data.case_id, finding_id=data.finding_id
        )
        return _flag(view)


# -- referrals -----------------------------------------------------------------------------------
class ReferralController(Controller):
    path = "/referrals"
    tags = ["cases"]  # noqa: RUF012

    @get("", operation_id="ListReferrals", summary="Referrals of the county")
    async def list_referrals(
        self,
        db: Db,
        principal: Caller,
        *,
        status: FromQuery[list[c.ReferralStatusName] | None] = None,
        case_id: FromQuery[uuid.UUID | None] = None,
        open_only: FromQuery[bool] = False,
        overdue: FromQuery[bool | None] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> list[c.Referral]:
        """Newest first (squad, captains, admins); ``overdue`` keeps referrals whose next
        legal step is (or is not) past due."""
        rows = await rf.list_referrals(
            db,
            principal,
            status=[s.value for s in status] if status else None,
            case_id=case_id,
            open_only=open_only,
            overdue=overdue,
            limit=limit,
            offset=offset,
        )
        return [_referral(v) for v in rows]

    @get("/overdue", operation_id="ListOverdueReferralSteps", summary="The overdue feed")
    async def overdue_steps(self, db: Db, principal: Caller) -> list[c.OverdueStep]:
        """Every legal step past due and not recorded, most overdue first."""
        return [_overdue(o) for o in await rf.overdue_steps(db, principal)]

    @get("/{referral_id:uuid}", operation_id="GetReferral", summary="One referral")
    async def get_referral(
        self, referral_id: FromPath[uuid.UUID], db: Db, principal: Caller
    ) -> c.Referral:
        """Every step with its due time; ``nextStep`` is what the referral waits for."""
        return _referral(await rf.get_referral(db, principal, referral_id))

    @post(
        "/{referral_id:uuid}/decision",
        operation_id="RecordReferralDecision",
        status_code=HTTP_200_OK,
        summary="The head's decision (captains, admins)",
    )
    async def record_decision(
        self,
        referral_id: FromPath[uuid.UUID],
        data: JSONBody[c.ReferralDecision],
        db: Db,
        principal: Caller,
    ) -> c.Referral:
        """Approval starts the 24-hour transfer timer; a refusal ends the referral."""
        view = await rf.record_decision(
            db, principal, referral_id, approved=data.approved, note=data.note, at=data.at
        )
        return _referral(view)

    @post(
        "/{referral_id:uuid}/transfer",
        operation_id="RecordReferralTransfer",
        status_code=HTTP_200_OK,
        summary="The transfer to the police with its materials",
    )
    async def record_transfer(
        self,
        referral_id: FromPath[uuid.UUID],
        data: JSONBody[c.ReferralTransfer],
        db: Db,
        principal: Caller,
    ) -> c.Referral:
        """Steps out of order answer 409 ``step_out_of_order`` with ``expectedStep``."""
        view = await rf.record_transfer(
            db,
            principal,
            referral_id,
            police_unit=data.police_unit,
            materials=_materials(data.materials),
            at=data.at,
        )
        return _referral(view)

    @post(
        "/{referral_id:uuid}/police-receipt",
        operation_id="RecordPoliceReceipt",
        status_code=HTTP_200_OK,
        summary="The police signed the receipt",
    )
    async def record_receipt(
        self,
        referral_id: FromPath[uuid.UUID],
        data: JSONBody[c.PoliceReceipt],
        db: Db,
        principal: Caller,
    ) -> c.Referral:
        """The police's decision is due within 3 days."""
        view = await rf.record_police_receipt(
            db, principal, referral_id, receipt_no=data.receipt_no, at=data.at
        )
        return _referral(view)

    @post(
        "/{referral_id:uuid}/police-decision",
        operation_id="RecordPoliceDecision",
        status_code=HTTP_200_OK,
        summary="The police's decision (or answer to a reconsideration)",
    )
    async def record_police_decision(
        self,
        referral_id: FromPath[uuid.UUID],
        data: JSONBody[c.PoliceDecision],
        db: Db,
        principal: Caller,
    ) -> c.Referral:
        """Filed: the handover is due in 3 days. Not filed: reconsideration may be asked
        within 3 days."""
        view = await rf.record_police_decision(
            db,
            principal,
            referral_id,
            filed=data.filed,
            decision_no=data.decision_no,
            reason=data.reason,
            at=data.at,
        )
        return _referral(view)

    @post(
        "/{referral_id:uuid}/reconsideration",
        operation_id="RequestReconsideration",
        status_code=HTTP_200_OK,
        summary="Ask the police to reconsider a refusal",
    )
    async def request_reconsideration(
        self,
        referral_id: FromPath[uuid.UUID],
        data: JSONBody[c.ReconsiderationRequest],
        db: Db,
        principal: Caller,
    ) -> c.Referral:
        """Within 3 days of the refusal (409 ``reconsideration_window_closed`` after)."""
        view = await rf.request_reconsideration(
            db, principal, referral_id, reason=data.reason, at=data.at
        )
        return _referral(view)

    @post(
        "/{referral_id:uuid}/handover",
        operation_id="RecordHandover",
        status_code=HTTP_200_OK,
        summary="Items and materials handed to the police",
    )
    async def record_handover(
        self,
        referral_id: FromPath[uuid.UUID],
        data: JSONBody[c.ReferralHandover],
        db: Db,
        principal: Caller,
    ) -> c.Referral:
        """After the police filed the case; ends the referral."""
        view = await rf.record_handover(
            db, principal, referral_id, items=_materials(data.items), at=data.at
        )
        return _referral(view)
