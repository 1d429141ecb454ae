"""The referral screening of patrol findings: :class:`patrol.finding_checks.FindingScreener`
over :mod:`evidence.cases.screening`, the one rule set cases are screened with.

A finding is screened as an occupation of land (``land_occupation``, 刑法第三百四十二条) on
its occupied area by land class, against the rules of its county's province in force today.
Each new suggestion raises a ``referral_suggested`` alert (captains and the security squad
read the feed), and a finding with a current suggestion is in the security squad's view
(:func:`evidence.access.finding_suggested`). The composition root wires this screener into
the patrol services (REST and sync push alike).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.models import ReferralSuggestion
from evidence.cases.screening import alert_suggestions, screen_findings
from patrol.field_models import Finding
from patrol.models import County

__all__ = ["ThresholdFindingScreener"]

log = structlog.get_logger(__name__)


def _json(s: ReferralSuggestion) -> dict[str, Any]:
    return {
        "id": str(s.id),
        "rule_id": str(s.rule_id),
        "rule_code": s.rule_code,
        "crime": s.crime,
        "level": s.level,
        "metric": s.metric,
        "value": str(s.value),
        "threshold": str(s.threshold),
        "unit": s.unit,
        "citation": s.citation,
        "message": s.message,
        "created_at": s.created_at.isoformat(),
    }


class ThresholdFindingScreener:
    """Screens findings with the province's referral thresholds (``referral_rules``)."""

    async def screen_findings(
        self, db: AsyncSession, findings: Sequence[Finding]
    ) -> Mapping[uuid.UUID, list[dict[str, Any]]]:
        out: dict[uuid.UUID, list[dict[str, Any]]] = {}
        by_county: dict[uuid.UUID, list[Finding]] = {}
        for finding in findings:
            by_county.setdefault(finding.county_id, []).append(finding)
        for county_id, rows in by_county.items():
            province = await db.scalar(select(County.province_code).where(County.id == county_id))
            screened = await screen_findings(db, rows, province_code=str(province or ""))
            for row in rows:
                result = screened[row.id]
                await alert_suggestions(
                    db,
                    result.added,
                    subject=f"巡查发现「{row.project_name}」",
                    session_id=row.session_id,
                )
                if result.added:
                    log.info(
                        "evidence.finding_screened",
                        finding_id=str(row.id),
                        county=str(county_id),
                        rules=[s.rule_code for s in result.added],
                    )
                out[row.id] = [_json(s) for s in result.current]
        return out
