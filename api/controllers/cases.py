"""Cases: opening, changing and reading them, their team, referral and evidence package.

Who sees what is the domain's rule (``evidence.access``): captains and admins see every case
of the county, the security squad flagged, suggested and referred cases, inspectors and
joint-team members the cases they opened or whose team they are on; another county's case
does not exist (404). Flags, referrals and referral rules: :mod:`api.controllers.referrals`.
Every handler is one call of the case service (:class:`~evidence.cases.service.CaseService`)
and a mapping.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from litestar import Controller, get, patch, post, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK

from api.deps import Caller, Cases
from api.mapping import to_wire, to_wire_list
from evidence.cases import cases as cs
from evidence.cases.package import ReferralPackage
from mobile_contract.v1 import cases as c

__all__ = ["CaseController"]

Limit = Annotated[int, QueryParameter(ge=1, le=500)]
Offset = Annotated[int, QueryParameter(ge=0, le=1_000_000)]


# -- mapping -------------------------------------------------------------------------------------
def _parties(parties: Sequence[c.Party]) -> list[cs.Party]:
    return [
        cs.Party(p.name, kind=p.kind.value, id_no=p.id_no, address=p.address, phone=p.phone)
        for p in parties
    ]


def _penalties(penalties: Sequence[c.PriorPenalty]) -> list[cs.PriorPenalty]:
    return [cs.PriorPenalty(p.kind.value, p.decided_on, p.decision_no) for p in penalties]


def _case(v: cs.CaseView) -> c.Case:
    return to_wire(c.Case, v)


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


def _package_stream(package: ReferralPackage) -> Stream:
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
        cases: Cases,
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
        rows = await cases.list_cases(
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
        return to_wire_list(c.Case, rows)

    @post("", operation_id="OpenCase", summary="Open a case (inspectors, captains, admins)")
    async def open_case(
        self, data: JSONBody[c.CaseCreate], cases: Cases, principal: Caller
    ) -> c.Case:
        """From a finding, a change polygon, a tip-off or on its own; the surveyed polygon is
        overlaid for areas by land class and the case is screened against the thresholds."""
        return _case(await cases.open_case(principal, _case_input(data)))

    @get("/{case_id:uuid}", operation_id="GetCase", summary="One case")
    async def get_case(
        self, case_id: FromPath[uuid.UUID], cases: Cases, principal: Caller
    ) -> c.Case:
        """Areas, evidence ids, current referral suggestions, flags and referrals."""
        return _case(await cases.get_case(principal, case_id))

    @patch("/{case_id:uuid}", operation_id="UpdateCase", summary="Change what is known")
    async def update_case(
        self,
        case_id: FromPath[uuid.UUID],
        data: JSONBody[c.CaseUpdate],
        cases: Cases,
        principal: Caller,
    ) -> c.Case:
        """Geometry, areas, values or history re-screen the case; finished cases are
        read-only (409 ``case_closed``)."""
        return _case(await cases.update_case(principal, case_id, _case_changes(data)))

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
        cases: Cases,
        principal: Caller,
    ) -> c.Case:
        """Evidence of the county; ids already linked are ignored (422 ``unknown_evidence``
        lists ids that are not evidence here)."""
        return _case(await cases.link_evidence(principal, case_id, data.evidence_ids))

    @put("/{case_id:uuid}/team", operation_id="SetCaseTeam", summary="Assign the case team")
    async def set_team(
        self,
        case_id: FromPath[uuid.UUID],
        data: JSONBody[c.CaseTeam],
        cases: Cases,
        principal: Caller,
    ) -> c.Case:
        """Captains and admins: lead officer, members and joint police/land members. Team
        members see the case and all its evidence; joint members attach evidence to it."""
        members = [cs.TeamMember(m.user_id, m.role_in_team.value) for m in data.members]
        return _case(await cases.set_team(principal, case_id, members))

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
        cases: Cases,
        principal: Caller,
    ) -> c.Case:
        """clue → filed → investigating → decided → executing → closed, with suspend,
        terminate and withdraw; other moves answer 409 ``invalid_status_transition``. A
        ``referred`` case follows its referral: no move while the referral is open; after
        the police took it, close, terminate or resume the status it was referred from."""
        view = await cases.change_status(principal, case_id, data.status.value, reason=data.reason)
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
        cases: Cases,
        principal: Caller,
    ) -> c.Referral:
        """Needs a flag, no open referral, an unfinished case (409 ``case_closed``) and a
        team of at least two officers (422 ``team_too_small``); the head's decision is due in
        3 days. The case becomes ``referred`` and follows the referral from now on."""
        view = await cases.create_referral(
            principal, case_id, team_ids=data.team_ids, report=data.report, at=data.at
        )
        return to_wire(c.Referral, view)

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
        cases: Cases,
        principal: Caller,
        referral_id: FromQuery[uuid.UUID | None] = None,
    ) -> Stream:
        """Originals byte-exact, a signed manifest, GeoJSON and the evidence sheet.

        The export is logged (custody entries, the package record) and committed before the
        first byte is sent; the stream then reads the object store only, never the database.
        A case without evidence answers 409 ``case_has_no_evidence``.
        """
        package = await cases.export_package(principal, case_id, referral_id=referral_id)
        return _package_stream(package)
