"""Threshold screening: match a case or a patrol finding against the referral rules in force,
suggest, never refer.

The rules are data (``referral_rules``): one row per threshold, per province, with the date
it takes effect and, when replaced, the date it stops. Province ``00`` holds the national
figures (seeded by migration ``0005_cases``); a province's own row with the same ``code``
replaces the national one while it is in force. A rule not yet in force matches nothing.

Metrics of a case (areas in mu, rounded to 0.01; money in yuan)::

    basic_farmland_mu        permanent basic farmland in the surveyed polygon
    other_cultivated_mu      cultivated land other than permanent basic farmland
    cultivated_mu            all cultivated land
    other_land_mu            everything that is not cultivated land
    total_mu                 the whole surveyed polygon
    forest_public_welfare_mu, forest_commercial_mu, grassland_mu   declared by officers
    ore_value_yuan, destroyed_value_yuan, illegal_gain_yuan
    prior_penalties          count of earlier penalties (``condition`` names kind and window)

A patrol finding (:func:`screen_findings`) is screened as an occupation of land
(``land_occupation``) on its occupied area by land class (``Finding.areas_by_class``, from
:mod:`patrol.finding_checks`): the same rules, the same metrics, no declared areas, values or
history.

Penalty windows count back from the date of the act (or the screening date when unknown).
A match writes a :class:`~evidence.cases.models.ReferralSuggestion` that cites the rule; a later
screening that no longer matches supersedes it (kept for the record, never deleted). New
suggestions raise ``referral_suggested`` alerts (:func:`alert_suggestions`); the alert of a
suggestion whose rule no longer matches resolves itself (``suggestion_superseded``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.errors import InvalidRuleError
from evidence.cases.models import (
    NATIONAL,
    Case,
    PenaltyKind,
    ReferralRule,
    ReferralSuggestion,
    ViolationKind,
)
from geofence.enums import LandClass
from infra import error_codes as codes
from infra.db import utcnow
from infra.errors import ConflictError
from infra.scope import COUNTY_TZ, Principal, Role, require_role
from patrol.alerts import REFERRAL_SUGGESTED, raise_alert, resolve_alerts
from patrol.field_models import Finding, PatrolAlert
from patrol.models import County

__all__ = [
    "FINDING_VIOLATION",
    "METRICS",
    "PenaltyCondition",
    "RuleCondition",
    "RuleInput",
    "RuleView",
    "Screened",
    "add_rule",
    "alert_suggestions",
    "case_metrics",
    "finding_metrics",
    "list_rules",
    "rules_in_force",
    "screen_case",
    "screen_findings",
]

_CENT = Decimal("0.01")

METRICS: dict[str, tuple[str, str]] = {
    "basic_farmland_mu": ("永久基本农田面积", "亩"),
    "other_cultivated_mu": ("基本农田以外的耕地面积", "亩"),
    "cultivated_mu": ("耕地面积", "亩"),
    "other_land_mu": ("其他土地面积", "亩"),
    "total_mu": ("总面积", "亩"),
    "forest_public_welfare_mu": ("公益林地面积", "亩"),
    "forest_commercial_mu": ("商品林地面积", "亩"),
    "grassland_mu": ("草原面积", "亩"),
    "ore_value_yuan": ("矿产品价值", "元"),
    "destroyed_value_yuan": ("矿产资源破坏价值", "元"),
    "illegal_gain_yuan": ("违法所得", "元"),
    "prior_penalties": ("此前行政处罚次数", "次"),
}
"""Every metric a rule may name: (label, unit as shown)."""

_UNITS = {"mu", "yuan", "count"}


def _mu(m2: float) -> Decimal:
    # 1 mu is exactly 10,000 / 15 m² (geofence.M2_PER_MU); thresholds compare on that.
    return (Decimal(str(m2)) * 15 / 10_000).quantize(_CENT, rounding=ROUND_HALF_UP)


FINDING_VIOLATION = ViolationKind.LAND_OCCUPATION.value
"""What a patrol finding is screened as, until a case opened from it says otherwise."""


def _area_metrics(total: float, cultivated: float, pbf: float) -> dict[str, Decimal]:
    return {
        "basic_farmland_mu": _mu(pbf),
        "other_cultivated_mu": _mu(max(cultivated - pbf, 0.0)),
        "cultivated_mu": _mu(cultivated),
        "other_land_mu": _mu(max(total - cultivated, 0.0)),
        "total_mu": _mu(total),
    }


def case_metrics(case: Case) -> dict[str, Decimal]:
    """The numbers of a case the rules compare with (absent values are left out)."""
    out = _area_metrics(
        case.area_total_m2 or 0.0,
        case.area_cultivated_m2 or 0.0,
        case.area_basic_farmland_m2 or 0.0,
    )
    for kind, m2 in (case.declared_areas or {}).items():
        out[f"{kind}_mu"] = _mu(float(m2))
    for name in ("ore_value_yuan", "destroyed_value_yuan", "illegal_gain_yuan"):
        value = getattr(case, name)
        if value is not None:
            out[name] = Decimal(value)
    return out


def finding_metrics(finding: Finding) -> dict[str, Decimal]:
    """The numbers of a finding the rules compare with: its occupied area by land class
    (``areas_by_class``, m²) and in all (``areas_source["total_m2"]``, else the sum)."""
    by_class = {str(k): float(v) for k, v in (finding.areas_by_class or {}).items()}
    pbf = by_class.get(LandClass.PERMANENT_BASIC_FARMLAND.value, 0.0)
    cultivated = pbf + by_class.get(LandClass.CULTIVATED.value, 0.0)
    total = (finding.areas_source or {}).get("total_m2")
    return _area_metrics(
        float(total) if total is not None else sum(by_class.values()), cultivated, pbf
    )


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


@dataclass(frozen=True, slots=True)
class _Subject:
    """What the rules look at: a case, or a finding (no special area, no history)."""

    violation_kind: str
    metrics: Mapping[str, Decimal]
    ref: date  # penalty windows count back from here
    special_area: bool = False
    prior_penalties: Sequence[Mapping[str, Any]] = ()

    def penalties(self, kind: str, within_years: int) -> int:
        start = _years_before(self.ref, within_years)
        return sum(
            1
            for p in self.prior_penalties
            if p.get("kind") == kind and start <= date.fromisoformat(p["decided_on"]) <= self.ref
        )


def _value_for(rule: ReferralRule, subject: _Subject) -> Decimal | None:
    """The subject's value for ``rule`` when every condition holds, else ``None``."""
    cond: Mapping[str, Any] = rule.condition or {}
    if "special_area" in cond and bool(cond["special_area"]) != subject.special_area:
        return None
    penalties = cond.get("penalties")
    if penalties and subject.penalties(
        str(penalties["kind"]), int(penalties["within_years"])
    ) < int(penalties["at_least"]):
        return None
    if rule.metric == "prior_penalties":
        return Decimal(subject.penalties(str(cond["penalty_kind"]), int(cond["within_years"])))
    return subject.metrics.get(rule.metric)


def _matches(
    rules: Sequence[ReferralRule], subject: _Subject
) -> dict[uuid.UUID, tuple[ReferralRule, Decimal]]:
    out: dict[uuid.UUID, tuple[ReferralRule, Decimal]] = {}
    for rule in rules:
        if rule.violation_kind != subject.violation_kind:
            continue
        value = _value_for(rule, subject)
        if value is not None and value >= rule.threshold:
            out[rule.id] = (rule, value)
    return out


def _today() -> date:
    return datetime.now(UTC).astimezone(COUNTY_TZ).date()


async def rules_in_force(
    session: AsyncSession, province_code: str, as_of: date
) -> list[ReferralRule]:
    """The rules of ``province_code`` in force on ``as_of``, national ones filling the gaps.

    Per ``code``, a provincial row beats a national one, and a later ``effective_from``
    beats an earlier one.
    """
    rows = (
        await session.scalars(
            select(ReferralRule).where(
                ReferralRule.province_code.in_([NATIONAL, province_code]),
                ReferralRule.effective_from <= as_of,
                or_(ReferralRule.effective_to.is_(None), ReferralRule.effective_to > as_of),
            )
        )
    ).all()
    best: dict[str, ReferralRule] = {}
    for rule in rows:
        rank = (rule.province_code != NATIONAL, rule.effective_from)
        current = best.get(rule.code)
        if current is None or rank > (current.province_code != NATIONAL, current.effective_from):
            best[rule.code] = rule
    return sorted(best.values(), key=lambda r: r.code)


def _message(rule: ReferralRule, value: Decimal, subject: str) -> str:
    label, unit = METRICS.get(rule.metric, (rule.metric, rule.unit))
    return (
        f"{rule.description}。{subject}{label}{value}{unit}，达到{rule.threshold}{unit}的标准"
        f"（{rule.citation}）。仅为移送建议，是否移送公安机关由人工审查决定。"
    )


@dataclass(frozen=True, slots=True)
class Screened:
    """What one screening left: the current suggestions (by rule code) and those of rules
    that did not match before (a new value of a rule that matched is not news)."""

    current: list[ReferralSuggestion]
    added: list[ReferralSuggestion]


def _suggestion(
    rule: ReferralRule, value: Decimal, *, county_id: uuid.UUID, noun: str, now: datetime
) -> ReferralSuggestion:
    return ReferralSuggestion(
        county_id=county_id,
        rule_id=rule.id,
        rule_code=rule.code,
        crime=rule.crime,
        level=rule.level,
        metric=rule.metric,
        value=value,
        threshold=rule.threshold,
        unit=rule.unit,
        citation=rule.citation,
        message=_message(rule, value, noun),
        created_at=now,
    )


@dataclass(slots=True)
class _Settled:
    kept: list[ReferralSuggestion]  # current and still matching with the same value
    todo: list[tuple[ReferralRule, Decimal]]  # matches that need a new suggestion
    dropped: list[ReferralSuggestion]  # superseded: their rule no longer matches at all
    before: set[uuid.UUID]  # the rules that matched before


def _settle(
    current: Sequence[ReferralSuggestion],
    matches: dict[uuid.UUID, tuple[ReferralRule, Decimal]],
    now: datetime,
) -> _Settled:
    """Supersede the current suggestions that no longer match (or whose value changed)."""
    out = _Settled([], [], [], {row.rule_id for row in current})
    todo = dict(matches)
    for row in current:
        match = todo.get(row.rule_id)
        if match is not None and match[1] == row.value:
            out.kept.append(row)
            del todo[row.rule_id]
            continue
        row.superseded_at = now
        if match is None:
            out.dropped.append(row)
    out.todo = list(todo.values())
    return out


async def _resolve_dropped(
    session: AsyncSession, county_id: uuid.UUID, dropped: Sequence[ReferralSuggestion], at: datetime
) -> None:
    """The ``referral_suggested`` alerts of suggestions whose rule no longer matches are
    resolved (``suggestion_superseded``); a rule that still matches with another value keeps
    its alert open."""
    if dropped:
        keys = [f"{REFERRAL_SUGGESTED}:{row.id}" for row in dropped]
        await resolve_alerts(
            session,
            county_id=county_id,
            where=PatrolAlert.dedupe_key.in_(keys),
            resolution="suggestion_superseded",
            at=at,
        )


async def screen_case(
    session: AsyncSession,
    case: Case,
    *,
    province_code: str,
    as_of: date | None = None,
) -> list[ReferralSuggestion]:
    """Screen ``case`` against the rules in force on ``as_of`` (default: today in China).

    Writes a suggestion per matching rule, supersedes suggestions that no longer match (or
    whose value changed), and returns the current suggestions. Never refers anything.
    """
    day = as_of or _today()
    subject = _Subject(
        case.violation_kind,
        case_metrics(case),
        case.act_date or day,
        bool(case.special_area),
        case.prior_penalties or [],
    )
    matches = _matches(await rules_in_force(session, province_code, day), subject)
    now = utcnow()
    current = (
        await session.scalars(
            select(ReferralSuggestion).where(
                ReferralSuggestion.case_id == case.id, ReferralSuggestion.superseded_at.is_(None)
            )
        )
    ).all()
    settled = _settle(current, matches, now)
    await session.flush()  # the partial unique index allows one current row per rule
    kept = settled.kept
    for rule, value in settled.todo:
        row = _suggestion(rule, value, county_id=case.county_id, noun="本案", now=now)
        row.case_id = case.id
        session.add(row)
        kept.append(row)
    await _resolve_dropped(session, case.county_id, settled.dropped, now)
    case.screened_at = now
    await session.flush()
    return sorted(kept, key=lambda r: r.rule_code)


async def screen_findings(
    session: AsyncSession,
    findings: Sequence[Finding],
    *,
    province_code: str,
    as_of: date | None = None,
) -> dict[uuid.UUID, Screened]:
    """Screen patrol findings (of one province) as :func:`screen_case` screens a case: on
    their occupied area by land class (:func:`finding_metrics`), as ``land_occupation``.
    One query for the rules and one for the current suggestions, whatever the number."""
    if not findings:
        return {}
    day = as_of or _today()
    subjects = {
        f.id: _Subject(FINDING_VIOLATION, finding_metrics(f), f.construction_started_on or day)
        for f in findings
    }
    rules: Sequence[ReferralRule] = []
    if any(v > 0 for s in subjects.values() for v in s.metrics.values()):
        rules = await rules_in_force(session, province_code, day)
    now = utcnow()
    rows = (
        await session.scalars(
            select(ReferralSuggestion).where(
                ReferralSuggestion.finding_id.in_(list(subjects)),
                ReferralSuggestion.superseded_at.is_(None),
            )
        )
    ).all()
    current: dict[uuid.UUID, list[ReferralSuggestion]] = {}
    for row in rows:
        current.setdefault(row.finding_id or row.id, []).append(row)
    settled = {
        f.id: _settle(current.get(f.id, []), _matches(rules, subjects[f.id]), now) for f in findings
    }
    await session.flush()  # the partial unique index allows one current row per rule
    out: dict[uuid.UUID, Screened] = {}
    for f in findings:
        done = settled[f.id]
        new = []
        for rule, value in done.todo:
            row = _suggestion(rule, value, county_id=f.county_id, noun="该发现", now=now)
            row.finding_id = f.id
            session.add(row)
            new.append(row)
        await _resolve_dropped(session, f.county_id, done.dropped, now)
        out[f.id] = Screened(
            sorted([*done.kept, *new], key=lambda r: r.rule_code),
            [r for r in new if r.rule_id not in done.before],
        )
    await session.flush()
    return out


async def alert_suggestions(
    session: AsyncSession,
    suggestions: Sequence[ReferralSuggestion],
    *,
    subject: str,
    session_id: uuid.UUID | None = None,
) -> None:
    """Raise a ``referral_suggested`` alert per suggestion (idempotent per suggestion);
    ``subject`` names what met the rule (e.g. ``案件2026-0001``)."""
    for suggestion in suggestions:
        await raise_alert(
            session,
            county_id=suggestion.county_id,
            kind=REFERRAL_SUGGESTED,
            severity="warning",
            dedupe_key=f"{REFERRAL_SUGGESTED}:{suggestion.id}",
            params={
                "subject": subject,
                "crime": suggestion.crime,
                "rule_code": suggestion.rule_code,
            },
            session_id=session_id,
            raised_at=suggestion.created_at,
        )


# -- the rule table ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RuleInput:
    """A provincial rule (or a new version of one): the caller's province, from a date."""

    code: str
    violation_kind: str
    crime: str
    article: str
    metric: str
    threshold: Decimal
    unit: str
    citation: str
    effective_from: date
    effective_to: date | None = None
    level: str = "threshold"
    condition: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True, slots=True)
class PenaltyCondition:
    """At least ``at_least`` earlier penalties of ``kind`` within ``within_years``."""

    kind: str
    within_years: int
    at_least: int


@dataclass(frozen=True, slots=True)
class RuleCondition:
    """A rule's ``condition`` read key by key: the same facts, typed (absent keys ``None``)."""

    special_area: bool | None = None
    penalties: PenaltyCondition | None = None
    penalty_kind: str | None = None
    within_years: int | None = None

    @classmethod
    def of(cls, condition: Mapping[str, Any]) -> RuleCondition:
        p = condition.get("penalties")
        kind = condition.get("penalty_kind")
        years = condition.get("within_years")
        return cls(
            special_area=bool(condition["special_area"]) if "special_area" in condition else None,
            penalties=PenaltyCondition(str(p["kind"]), int(p["within_years"]), int(p["at_least"]))
            if isinstance(p, Mapping)
            else None,
            penalty_kind=str(kind) if kind is not None else None,
            within_years=int(years) if years is not None else None,
        )

    def as_condition(self) -> dict[str, Any]:
        """The stored form: snake_case keys, absent facts left out."""
        out: dict[str, Any] = {}
        if self.special_area is not None:
            out["special_area"] = self.special_area
        if self.penalties is not None:
            p = self.penalties
            out["penalties"] = {
                "kind": p.kind,
                "within_years": p.within_years,
                "at_least": p.at_least,
            }
        if self.penalty_kind is not None:
            out["penalty_kind"] = self.penalty_kind
        if self.within_years is not None:
            out["within_years"] = self.within_years
        return out


@dataclass(frozen=True, slots=True)
class RuleView:
    id: uuid.UUID
    province_code: str
    code: str
    violation_kind: str
    crime: str
    article: str
    level: str
    metric: str
    threshold: Decimal
    unit: str
    condition: dict[str, Any]
    citation: str
    description: str
    effective_from: date
    effective_to: date | None

    @property
    def rule_condition(self) -> RuleCondition:
        return RuleCondition.of(self.condition)

    @classmethod
    def from_row(cls, row: ReferralRule) -> RuleView:
        return cls(
            id=row.id,
            province_code=row.province_code,
            code=row.code,
            violation_kind=row.violation_kind,
            crime=row.crime,
            article=row.article,
            level=row.level,
            metric=row.metric,
            threshold=row.threshold,
            unit=row.unit,
            condition=dict(row.condition or {}),
            citation=row.citation,
            description=row.description,
            effective_from=row.effective_from,
            effective_to=row.effective_to,
        )


def _check_condition(condition: Mapping[str, Any], metric: str) -> dict[str, Any]:
    allowed = {"special_area", "penalties", "penalty_kind", "within_years"}
    unknown = set(condition) - allowed
    if unknown:
        raise InvalidRuleError(f"unknown condition keys: {sorted(unknown)}", field="condition")
    out = dict(condition)
    kinds = {k.value for k in PenaltyKind}
    penalties = out.get("penalties")
    if penalties is not None and (
        not isinstance(penalties, Mapping)
        or penalties.get("kind") not in kinds
        or not isinstance(penalties.get("within_years"), int)
        or not isinstance(penalties.get("at_least"), int)
    ):
        msg = "penalties needs kind, within_years and at_least"
        raise InvalidRuleError(msg, field="condition.penalties")
    if metric == "prior_penalties" and (
        out.get("penalty_kind") not in kinds or not isinstance(out.get("within_years"), int)
    ):
        msg = "the prior_penalties metric needs penalty_kind and within_years"
        raise InvalidRuleError(msg, field="condition")
    return out


async def _county_province(session: AsyncSession, principal: Principal) -> str:
    code = await session.scalar(
        select(County.province_code).where(County.id == principal.county_id)
    )
    return str(code or "")


async def add_rule(session: AsyncSession, principal: Principal, data: RuleInput) -> RuleView:
    """Add a rule for the caller's province (admins). Existing cases are not re-screened
    until they change; a rule whose date has not come matches nothing until then."""
    require_role(principal, Role.ADMIN, action="set referral thresholds")
    try:
        ViolationKind(data.violation_kind)
    except ValueError as exc:
        raise InvalidRuleError("unknown violation kind", field="violation_kind") from exc
    if data.metric not in METRICS:
        raise InvalidRuleError(f"unknown metric {data.metric[:40]!r}", field="metric")
    if data.unit not in _UNITS or data.level not in ("threshold", "especially_serious"):
        raise InvalidRuleError("unit or level is not known", field="unit")
    threshold = Decimal(data.threshold)
    if not threshold.is_finite() or threshold < 0:
        raise InvalidRuleError("threshold must be at least 0", field="threshold")
    if data.effective_to is not None and data.effective_to <= data.effective_from:
        raise InvalidRuleError("effective_to must be after effective_from", field="effective_to")
    if not data.code.strip() or not data.citation.strip():
        raise InvalidRuleError("a rule needs a code and a citation", field="code")
    province = await _county_province(session, principal)
    taken = await session.scalar(
        select(ReferralRule.id).where(
            ReferralRule.province_code == province,
            ReferralRule.code == data.code.strip()[:60],
            ReferralRule.effective_from == data.effective_from,
        )
    )
    if taken is not None:
        raise ConflictError(
            "a rule with this code already starts on this date",
            code=codes.RULE_EXISTS,
            rule_id=str(taken),
        )
    row = ReferralRule(
        province_code=province,
        code=data.code.strip()[:60],
        violation_kind=data.violation_kind,
        crime=data.crime[:100],
        article=data.article[:60],
        level=data.level,
        metric=data.metric,
        threshold=threshold.quantize(_CENT),
        unit=data.unit,
        condition=_check_condition(data.condition, data.metric),
        citation=data.citation,
        description=data.description,
        effective_from=data.effective_from,
        effective_to=data.effective_to,
    )
    session.add(row)
    await session.flush()
    return RuleView.from_row(row)


async def list_rules(
    session: AsyncSession,
    principal: Principal,
    *,
    as_of: date | None = None,
    codes: Sequence[str] | None = None,
) -> list[RuleView]:
    """The rules that apply to the caller's province on ``as_of`` (default today)."""
    province = await _county_province(session, principal)
    rules = await rules_in_force(session, province, as_of or _today())
    if codes is not None:
        rules = [r for r in rules if r.code in set(codes)]
    return [RuleView.from_row(r) for r in rules]
