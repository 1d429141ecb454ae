"""Referral rules, flags and criminal referrals with their legal steps.

The thresholds in force, flags on cases and findings, and each referral from the head's
decision to the handover to the police, every step against its legal due time. Who sees
what is the domain's rule (``evidence.access``): the security squad, captains and admins;
another county's referral does not exist (404). Every handler is one call of the case
service (:class:`~evidence.cases.service.CaseService`) and a mapping.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK

from api.controllers.cases import Limit, Offset
from api.deps import Caller, Cases
from api.mapping import to_wire, to_wire_list
from evidence.cases import referrals as rf
from evidence.cases import screening as sc
from mobile_contract.v1 import cases as c

__all__ = ["FlagController", "ReferralController", "ReferralRuleController"]


# -- mapping -------------------------------------------------------------------------------------
def _materials(items: Sequence[c.Material]) -> list[rf.Material]:
    return [rf.Material(m.kind.value, m.title, m.reference, m.quantity) for m in items]


def _referral(v: rf.ReferralView) -> c.Referral:
    return to_wire(c.Referral, v)


def _condition(d: c.RuleCreate) -> dict[str, Any]:
    """The typed ``ruleCondition`` when given, else the older snake_case ``condition``."""
    r = d.rule_condition
    if r is None:
        return d.condition
    p = r.penalties
    return sc.RuleCondition(
        special_area=r.special_area,
        penalties=None if p is None else sc.PenaltyCondition(p.kind, p.within_years, p.at_least),
        penalty_kind=r.penalty_kind,
        within_years=r.within_years,
    ).as_condition()


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
        condition=_condition(d),
        description=d.description,
    )


# -- rules ---------------------------------------------------------------------------------------
class ReferralRuleController(Controller):
    path = "/referral-rules"
    tags = ["cases"]  # noqa: RUF012

    @get("", operation_id="ListReferralRules", summary="Thresholds in force in the province")
    async def list_rules(
        self,
        cases: Cases,
        principal: Caller,
        as_of: FromQuery[date | None] = None,
        code: FromQuery[list[str] | None] = None,
    ) -> list[c.Rule]:
        """The province's own rules and the national figures they do not replace, on
        ``as_of`` (default today)."""
        return to_wire_list(c.Rule, await cases.list_rules(principal, as_of=as_of, codes=code))

    @post("", operation_id="AddReferralRule", summary="Add a provincial threshold (admins)")
    async def add_rule(
        self, data: JSONBody[c.RuleCreate], cases: Cases, principal: Caller
    ) -> c.Rule:
        """For the caller's province from ``effectiveFrom``; cases are re-screened when they
        next change."""
        return to_wire(c.Rule, await cases.add_rule(principal, _rule_input(data)))


# -- flags ---------------------------------------------------------------------------------------
class FlagController(Controller):
    path = "/referral-flags"
    tags = ["cases"]  # noqa: RUF012

    @get("", operation_id="ListFlags", summary="Referral flags of the county")
    async def list_flags(
        self, cases: Cases, principal: Caller, findings_only: FromQuery[bool] = False
    ) -> list[c.Flag]:
        """Newest first (squad, captains, admins)."""
        rows = await cases.list_flags(principal, findings_only=findings_only)
        return to_wire_list(c.Flag, rows)

    @post("", operation_id="FlagForReferral", summary="Flag a case or finding (squad, captains)")
    async def flag(self, data: JSONBody[c.FlagCreate], cases: Cases, principal: Caller) -> c.Flag:
        """Exactly one of ``caseId`` and ``findingId``; flagging again returns the flag."""
        view = await cases.flag_for_referral(
            principal, reason=data.reason, case_id=data.case_id, finding_id=data.finding_id
        )
        return to_wire(c.Flag, view)


# -- referrals -----------------------------------------------------------------------------------
class ReferralController(Controller):
    path = "/referrals"
    tags = ["cases"]  # noqa: RUF012

    @get("", operation_id="ListReferrals", summary="Referrals of the county")
    async def list_referrals(
        self,
        cases: Cases,
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
        rows = await cases.list_referrals(
            principal,
            status=[s.value for s in status] if status else None,
            case_id=case_id,
            open_only=open_only,
            overdue=overdue,
            limit=limit,
            offset=offset,
        )
        return to_wire_list(c.Referral, rows)

    @get("/overdue", operation_id="ListOverdueReferralSteps", summary="The overdue feed")
    async def overdue_steps(self, cases: Cases, principal: Caller) -> list[c.OverdueStep]:
        """Every legal step past due and not recorded, most overdue first."""
        return to_wire_list(c.OverdueStep, await cases.overdue_steps(principal))

    @get("/{referral_id:uuid}", operation_id="GetReferral", summary="One referral")
    async def get_referral(
        self, referral_id: FromPath[uuid.UUID], cases: Cases, principal: Caller
    ) -> c.Referral:
        """Every step with its due time; ``nextStep`` is what the referral waits for."""
        return _referral(await cases.get_referral(principal, referral_id))

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
        cases: Cases,
        principal: Caller,
    ) -> c.Referral:
        """Approval starts the 24-hour transfer timer; a refusal ends the referral."""
        view = await cases.record_decision(
            principal, referral_id, approved=data.approved, note=data.note, at=data.at
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
        cases: Cases,
        principal: Caller,
    ) -> c.Referral:
        """Steps out of order answer 409 ``step_out_of_order`` with ``expectedStep``."""
        view = await cases.record_transfer(
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
        cases: Cases,
        principal: Caller,
    ) -> c.Referral:
        """The police's decision is due within 3 days."""
        view = await cases.record_police_receipt(
            principal, referral_id, receipt_no=data.receipt_no, at=data.at
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
        cases: Cases,
        principal: Caller,
    ) -> c.Referral:
        """Filed: the handover is due in 3 days. Not filed: reconsideration may be asked
        within 3 days."""
        view = await cases.record_police_decision(
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
        cases: Cases,
        principal: Caller,
    ) -> c.Referral:
        """Within 3 days of the refusal (409 ``reconsideration_window_closed`` after)."""
        view = await cases.request_reconsideration(
            principal, referral_id, reason=data.reason, at=data.at
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
        cases: Cases,
        principal: Caller,
    ) -> c.Referral:
        """After the police filed the case; ends the referral."""
        view = await cases.record_handover(
            principal, referral_id, items=_materials(data.items), at=data.at
        )
        return _referral(view)
