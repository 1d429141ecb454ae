"""The case service: one entry point to casework for a request (or a command).

Usage (one request = one session = one transaction, committed by the caller)::

    keys = PackageKeyring.from_settings(settings)
    cases = CaseService(session, store, settings.evidence, keys=keys)
    view = await cases.open_case(principal, case_input)
    view = await cases.change_status(principal, view.id, "filed")
    referral = await cases.create_referral(principal, view.id, team_ids=[...], report="...")
    await session.commit()

The service is bound to a session, the object store (packages read originals from it), the
evidence settings (the custody key), the package keyring (packages are signed with its
current key) and a clock (what "now" is for the overdue feed
and the ``overdue`` mark of referrals). Its methods wrap the module functions of
:mod:`evidence.cases.cases`, :mod:`evidence.cases.referrals`, :mod:`evidence.cases.screening`
and :mod:`evidence.cases.package`, which stay the reference for each rule; every method
answers domain views (:class:`CaseView`, :class:`ReferralView`, ...), never ORM rows.

Reads by the procuratorate (cases, referrals, the overdue feed, packages) are audited here,
in the request's transaction (:mod:`evidence.cases.supervision`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases import cases as _cases
from evidence.cases import package as _package
from evidence.cases import referrals as _referrals
from evidence.cases import screening as _screening
from evidence.cases.cases import CaseChanges, CaseInput, CaseView, FlagView, TeamMember
from evidence.cases.findings import FindingFilter, FindingPage, list_county_findings
from evidence.cases.package import ReferralPackage
from evidence.cases.package_keys import PackageKeyring
from evidence.cases.referrals import Material, OverdueStep, ReferralView
from evidence.cases.screening import RuleInput, RuleView
from evidence.cases.supervision import audit_read
from evidence.custody import CustodyLog
from infra.db import utcnow
from infra.objectstore import ObjectStore
from infra.scope import Principal
from infra.settings import EvidenceSettings

__all__ = ["CaseService"]


class CaseService:
    """Cases, referral rules, flags, findings under review, referrals and their steps,
    evidence packages."""

    def __init__(
        self,
        session: AsyncSession,
        store: ObjectStore,
        settings: EvidenceSettings,
        *,
        keys: PackageKeyring | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.session = session
        self._store = store
        self._settings = settings
        self._keys = keys
        self._clock = clock
        self._custody = CustodyLog(settings.package_signing_key.encode())

    async def _audit(
        self,
        principal: Principal,
        operation: str,
        ids: Sequence[uuid.UUID],
        *,
        subject_id: uuid.UUID | None = None,
    ) -> None:
        await audit_read(
            self.session, self._custody, principal,
            operation=operation, ids=ids, subject_id=subject_id, at=self._clock(),
        )  # fmt: skip

    # -- cases -----------------------------------------------------------------------------------
    async def list_cases(
        self,
        principal: Principal,
        *,
        status: Sequence[str] | None = None,
        violation_kind: str | None = None,
        flagged: bool | None = None,
        referred: bool | None = None,
        suggested: bool | None = None,
        opened_since: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[CaseView]:
        rows = await _cases.list_cases(
            self.session,
            principal,
            status=status,
            violation_kind=violation_kind,
            flagged=flagged,
            referred=referred,
            suggested=suggested,
            opened_since=opened_since,
            limit=limit,
            offset=offset,
        )
        await self._audit(principal, "list_cases", [r.id for r in rows])
        return rows

    async def open_case(self, principal: Principal, data: CaseInput) -> CaseView:
        return await _cases.open_case(self.session, principal, data)

    async def get_case(self, principal: Principal, case_id: uuid.UUID) -> CaseView:
        view = await _cases.get_case(self.session, principal, case_id)
        await self._audit(principal, "read_case", [view.id], subject_id=view.id)
        return view

    async def update_case(
        self, principal: Principal, case_id: uuid.UUID, changes: CaseChanges
    ) -> CaseView:
        return await _cases.update_case(self.session, principal, case_id, changes)

    async def link_evidence(
        self, principal: Principal, case_id: uuid.UUID, evidence_ids: Sequence[uuid.UUID]
    ) -> CaseView:
        return await _cases.link_evidence(self.session, principal, case_id, evidence_ids)

    async def set_team(
        self, principal: Principal, case_id: uuid.UUID, members: Sequence[TeamMember]
    ) -> CaseView:
        return await _cases.set_case_team(self.session, principal, case_id, members)

    async def change_status(
        self, principal: Principal, case_id: uuid.UUID, status: str, *, reason: str = ""
    ) -> CaseView:
        return await _cases.change_status(self.session, principal, case_id, status, reason=reason)

    # -- referral rules --------------------------------------------------------------------------
    async def list_rules(
        self,
        principal: Principal,
        *,
        as_of: date | None = None,
        codes: Sequence[str] | None = None,
    ) -> list[RuleView]:
        return await _screening.list_rules(self.session, principal, as_of=as_of, codes=codes)

    async def add_rule(self, principal: Principal, data: RuleInput) -> RuleView:
        return await _screening.add_rule(self.session, principal, data)

    # -- flags -----------------------------------------------------------------------------------
    async def list_flags(
        self, principal: Principal, *, findings_only: bool = False
    ) -> list[FlagView]:
        return await _referrals.list_flags(self.session, principal, findings_only=findings_only)

    async def flag_for_referral(
        self,
        principal: Principal,
        *,
        reason: str,
        case_id: uuid.UUID | None = None,
        finding_id: uuid.UUID | None = None,
    ) -> FlagView:
        return await _referrals.flag_for_referral(
            self.session, principal, reason=reason, case_id=case_id, finding_id=finding_id
        )

    # -- findings across the county --------------------------------------------------------------
    async def list_findings(
        self,
        principal: Principal,
        filters: FindingFilter | None = None,
        *,
        limit: int = 50,
        cursor: str | None = None,
    ) -> FindingPage:
        """The county's findings the caller may read (:mod:`evidence.cases.findings`)."""
        return await list_county_findings(
            self.session, principal, filters, limit=limit, cursor=cursor
        )

    # -- referrals -------------------------------------------------------------------------------
    async def list_referrals(
        self,
        principal: Principal,
        *,
        status: Sequence[str] | None = None,
        case_id: uuid.UUID | None = None,
        open_only: bool = False,
        overdue: bool | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[ReferralView]:
        rows = await _referrals.list_referrals(
            self.session,
            principal,
            status=status,
            case_id=case_id,
            open_only=open_only,
            overdue=overdue,
            now=self._clock(),
            limit=limit,
            offset=offset,
        )
        await self._audit(principal, "list_referrals", [r.id for r in rows])
        return rows

    async def overdue_steps(self, principal: Principal) -> list[OverdueStep]:
        rows = await _referrals.overdue_steps(self.session, principal, now=self._clock())
        await self._audit(principal, "list_overdue_referral_steps", [r.referral_id for r in rows])
        return rows

    async def get_referral(self, principal: Principal, referral_id: uuid.UUID) -> ReferralView:
        view = await _referrals.get_referral(
            self.session, principal, referral_id, now=self._clock()
        )
        await self._audit(principal, "read_referral", [view.id], subject_id=view.id)
        return view

    async def create_referral(
        self,
        principal: Principal,
        case_id: uuid.UUID,
        *,
        team_ids: Sequence[uuid.UUID],
        report: str,
        at: datetime | None = None,
    ) -> ReferralView:
        return await _referrals.create_referral(
            self.session, principal, case_id, team_ids=team_ids, report=report, at=at
        )

    async def record_decision(
        self,
        principal: Principal,
        referral_id: uuid.UUID,
        *,
        approved: bool,
        note: str = "",
        at: datetime | None = None,
    ) -> ReferralView:
        return await _referrals.record_decision(
            self.session, principal, referral_id, approved=approved, note=note, at=at
        )

    async def record_transfer(
        self,
        principal: Principal,
        referral_id: uuid.UUID,
        *,
        police_unit: str,
        materials: Sequence[Material],
        at: datetime | None = None,
    ) -> ReferralView:
        return await _referrals.record_transfer(
            self.session,
            principal,
            referral_id,
            police_unit=police_unit,
            materials=materials,
            at=at,
        )

    async def record_police_receipt(
        self,
        principal: Principal,
        referral_id: uuid.UUID,
        *,
        receipt_no: str = "",
        at: datetime | None = None,
    ) -> ReferralView:
        return await _referrals.record_police_receipt(
            self.session, principal, referral_id, receipt_no=receipt_no, at=at
        )

    async def record_police_decision(
        self,
        principal: Principal,
        referral_id: uuid.UUID,
        *,
        filed: bool,
        decision_no: str = "",
        reason: str = "",
        at: datetime | None = None,
    ) -> ReferralView:
        return await _referrals.record_police_decision(
            self.session,
            principal,
            referral_id,
            filed=filed,
            decision_no=decision_no,
            reason=reason,
            at=at,
        )

    async def request_reconsideration(
        self,
        principal: Principal,
        referral_id: uuid.UUID,
        *,
        reason: str,
        at: datetime | None = None,
    ) -> ReferralView:
        return await _referrals.request_reconsideration(
            self.session, principal, referral_id, reason=reason, at=at
        )

    async def record_handover(
        self,
        principal: Principal,
        referral_id: uuid.UUID,
        *,
        items: Sequence[Material],
        at: datetime | None = None,
    ) -> ReferralView:
        return await _referrals.record_handover(
            self.session, principal, referral_id, items=items, at=at
        )

    # -- packages --------------------------------------------------------------------------------
    async def export_package(
        self, principal: Principal, case_id: uuid.UUID, *, referral_id: uuid.UUID | None = None
    ) -> ReferralPackage:
        """Logged and recorded in the session; the package streams from the store only.
        Signed with the keyring's current key (without a keyring:
        ``package_signing_key_missing``)."""
        package = await _package.export_referral_package(
            self.session,
            principal,
            case_id,
            store=self._store,
            custody_key=self._settings.package_signing_key,
            keys=self._keys,
            referral_id=referral_id,
        )
        ids = [case_id, package.package_id]
        await self._audit(principal, "export_package", ids, subject_id=case_id)
        return package
