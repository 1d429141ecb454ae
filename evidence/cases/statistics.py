"""Periodic statistics: every figure of the brigade's reports, from the records, for a period
and a grouping, beside the previous period and the same period last year.

Sections and what each counts (China days; ``[lo, hi)`` the period's bounds in UTC):

============  ==================================================================================
patrols       counted patrols (ended, at least ``min_counted_s`` long) started in the period:
              count, the monthly plans' quotas of the months starting in it, night patrols,
              km, hours, distinct targets reached
findings      patrol findings found in the period: count, occupied area (mu), by construction
              status and by land class
stops         tip-offs handled with a stop order in the period (the penalty procedure's stop
              notices join them when it lands)
duty          five-to-one checks in the period, night checks, rebounds (a check reporting signs
              of reopening or active mining), and the members' compliance (% at the period's
              end, :class:`patrol.duty.DutyCompliance`; county only)
tip_offs      clues received (duplicates left out) by channel, type and status now, on time and
              late (a step done late or overdue now)
petitions     petitions received by form, category and status now, on time and late
              (:func:`evidence.cases.petitions.petition_figures`)
satellite     satellite tasks whose standing result was verified in the period: verified, by
              outcome, illegal area and illegally occupied cultivated land (mu)
cases         cases opened, filed and closed in the period, their surveyed area (mu), and every
              case's stage at the period's end (from the status history); penalty
              decisions in the period with the fines decided, and the execution records
              of the period: fines collected, area demolished, farmland restored (mu)
referrals     referrals reported, transferred to the police (on time: by the transfer
              deadline), and filed by the police (accepted) in the period
============  ==================================================================================

Groupings: ``county`` (the totals only), ``township``, ``area`` (contract area) and
``person``. A patrol counts in each township its contract area covers; a case (and its
referrals) in the township and area containing its location; a person is the inspector of a
patrol, the reporter of a finding, the recorder of a check, the verifier of a satellite
result, the officer who opened a case. Sections with no such link are left out of the groups
(tip-offs and petitions by person, for example) and stay in the totals.

Every figure carries ``link``: the API path and query of the list behind it (the nearest list
when no list filters exactly on the figure).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.errors import InvalidReportError
from evidence.cases.petitions import petition_figures
from evidence.cases.tip_off_models import TipOff
from evidence.cases.tip_offs import late_condition
from infra import error_codes as codes
from infra.db import utcnow
from infra.scope import MANAGERS, Principal, require_role
from patrol.config import PatrolConfig
from patrol.duty import GeofenceDutyRoster
from patrol.field_models import PatrolSession
from patrol.periods import Period, parse_period
from patrol.tracks import refresh_summary

__all__ = [
    "GROUPINGS",
    "PENALTY_KEYS",
    "SECTIONS",
    "SECTION_LABELS",
    "FigureView",
    "GroupView",
    "PeriodView",
    "StatisticsService",
    "StatisticsView",
    "Values",
    "figure_label",
    "system_reader",
]

GROUPINGS = ("county", "township", "area", "person")
SECTIONS = (
    "patrols",
    "findings",
    "stops",
    "duty",
    "tip_offs",
    "petitions",
    "satellite",
    "cases",
    "referrals",
)
SECTION_LABELS = {
    "patrols": "巡查",
    "findings": "巡查发现",
    "stops": "制止违法",
    "duty": "五包一",
    "tip_offs": "举报线索",
    "petitions": "信访",
    "satellite": "卫片图斑",
    "cases": "案件查处",
    "referrals": "移送公安",
}

# -- vocabularies as the forms name them ---------------------------------------------------------
_BUILD = {
    "levelled": "已平整未建",
    "partly_built": "在建",
    "fully_built": "已建成",
    "other": "其他",
}
_LAND = {
    "permanent_basic_farmland": "永久基本农田",
    "cultivated": "耕地",
    "other_farmland": "其他农用地",
    "construction_approved": "批准建设用地",
    "construction_unapproved": "未批建设用地",
    "unused": "未利用地",
    "other": "其他",
    "none": "未落入图层",
}
_CHANNEL = {
    "phone_12336": "12336电话",
    "letter": "来信",
    "email": "电子邮件",
    "leadership": "领导批办",
    "lower_level": "下级上报",
    "media": "媒体",
    "transfer_12345": "12345转办",
    "wechat": "微信",
    "other": "其他",
}
_CLUE = {
    "land_illegal_approval": "违法批地",
    "land_illegal_occupation": "违法占地",
    "land_illegal_transfer": "违法转让土地使用权",
    "land_farmland_destruction": "破坏耕地",
    "land_other": "其他土地违法",
    "mineral_illegal_exploration": "违法勘查",
    "mineral_illegal_mining": "违法开采",
    "mineral_illegal_right_approval": "违法批准矿业权",
    "mineral_illegal_right_transfer": "违法转让矿业权",
    "mineral_other": "其他矿产违法",
}
_TIP_STATUS = {
    "received": "已登记",
    "accepted": "已受理",
    "refused": "不予受理",
    "transferred": "已转送",
    "verifying": "核查中",
    "verified": "已核查",
    "handled": "已处理",
    "closed": "已办结",
}
_FORM = {"letter": "来信", "visit": "来访", "phone": "电话", "online": "网上信访"}
_CATEGORY = {
    "suggestion": "建议意见",
    "complaint_accusation": "检举控告",
    "appeal_request": "申诉求决",
}
_PETITION_STATUS = {
    "registered": "已登记",
    "not_accepted": "不予受理",
    "accepted": "已受理",
    "assigned": "已交办",
    "replied": "已答复",
    "review_requested": "申请复查",
    "reviewed": "已复查",
    "re_review_requested": "申请复核",
    "re_reviewed": "已复核",
}
_OUTCOME = {"legal": "合法", "not_new": "非新增", "illegal": "违法"}
_CASE_STAGE = {
    "clue": "线索",
    "filed": "已立案",
    "investigating": "调查取证",
    "decided": "已作出决定",
    "executing": "执行中",
    "closed": "已结案",
    "suspended": "中止",
    "terminated": "终止",
    "withdrawn": "撤销",
    "referred": "移送公安",
}

#: key -> (label, unit); keys ``section.name`` or ``section.breakdown.code``
_FIGURES: dict[str, tuple[str, str]] = {
    "patrols.count": ("巡查次数", "次"),
    "patrols.quota": ("计划巡查次数", "次"),
    "patrols.night": ("夜间巡查次数", "次"),
    "patrols.distance_km": ("巡查里程", "公里"),
    "patrols.hours": ("巡查时长", "小时"),
    "patrols.targets_visited": ("到达巡查目标", "个"),
    "findings.count": ("发现违法行为", "处"),
    "findings.area_mu": ("违法占地面积", "亩"),
    **{f"findings.construction.{k}": (f"建设状态：{v}", "处") for k, v in _BUILD.items()},
    **{f"findings.land_class.{k}": (f"地类：{v}", "处") for k, v in _LAND.items()},
    "stops.count": ("责令停止违法行为", "起"),
    "duty.checks": ("五包一巡查", "次"),
    "duty.night_checks": ("五包一夜间巡查", "次"),
    "duty.rebounds": ("发现死灰复燃迹象", "次"),
    "duty.compliance_pct": ("五包一履职率", "%"),
    "duty.members_overdue": ("逾期未巡查包保人员", "人"),
    "tip_offs.count": ("受理举报线索", "件"),
    **{f"tip_offs.channel.{k}": (f"渠道：{v}", "件") for k, v in _CHANNEL.items()},
    **{f"tip_offs.type.{k}": (f"类型：{v}", "件") for k, v in _CLUE.items()},
    **{f"tip_offs.status.{k}": (f"状态：{v}", "件") for k, v in _TIP_STATUS.items()},
    "tip_offs.on_time": ("按期办理", "件"),
    "tip_offs.late": ("逾期办理", "件"),
    "petitions.count": ("信访事项", "件"),
    **{f"petitions.form.{k}": (f"形式：{v}", "件") for k, v in _FORM.items()},
    **{f"petitions.category.{k}": (f"类别：{v}", "件") for k, v in _CATEGORY.items()},
    **{f"petitions.status.{k}": (f"状态：{v}", "件") for k, v in _PETITION_STATUS.items()},
    "petitions.group": ("集体访", "件"),
    "petitions.on_time": ("按期办理", "件"),
    "petitions.late": ("逾期办理", "件"),
    "satellite.verified": ("核查图斑", "个"),
    **{f"satellite.outcome.{k}": (f"核查结果：{v}", "个") for k, v in _OUTCOME.items()},
    "satellite.illegal_mu": ("违法图斑面积", "亩"),
    "satellite.illegal_cultivated_mu": ("违法占用耕地", "亩"),
    "cases.opened": ("新增案件", "件"),
    "cases.filed": ("立案", "件"),
    "cases.closed": ("结案", "件"),
    "cases.area_mu": ("新增案件涉案面积", "亩"),
    **{f"cases.stage.{k}": (f"期末状态：{v}", "件") for k, v in _CASE_STAGE.items()},
    "cases.penalties": ("作出行政处罚决定", "件"),
    "cases.fines_decided_yuan": ("决定罚没款", "元"),
    "cases.fines_collected_yuan": ("收缴罚没款", "元"),
    "cases.demolished_mu": ("拆除违法建筑面积", "亩"),
    "cases.farmland_restored_mu": ("恢复耕地", "亩"),
    "referrals.made": ("移送报告", "件"),
    "referrals.transferred": ("移送公安机关", "件"),
    "referrals.transferred_on_time": ("按时移送", "件"),
    "referrals.accepted": ("公安机关立案", "件"),
}
PENALTY_KEYS = (
    "cases.penalties",
    "cases.fines_decided_yuan",
    "cases.fines_collected_yuan",
    "cases.demolished_mu",
    "cases.farmland_restored_mu",
)


def system_reader(county_id: uuid.UUID) -> Principal:
    """The principal the report worker reads a county's figures as (no request has one)."""
    return Principal(
        user_id=uuid.UUID(int=0), county_id=county_id, role=MANAGERS[0], username="reports"
    )


def figure_label(key: str) -> tuple[str, str]:
    """(label, unit) of a figure key."""
    return _FIGURES[key]


# -- views ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FigureView:
    key: str
    section: str
    label: str
    unit: str
    value: float | None  # None: not computable yet (see ``missing``)
    previous: float | None
    last_year: float | None
    link: str


@dataclass(frozen=True, slots=True)
class GroupView:
    key: str  # the township, area or person id; "" for records linked to none
    name: str
    figures: tuple[FigureView, ...]


@dataclass(frozen=True, slots=True)
class PeriodView:
    kind: str
    key: str
    label: str
    date_from: date
    date_to: date


@dataclass(frozen=True, slots=True)
class StatisticsView:
    period: PeriodView
    previous: PeriodView
    last_year: PeriodView
    group_by: str
    figures: tuple[FigureView, ...]
    groups: tuple[GroupView, ...]
    missing: tuple[str, ...]  # figure keys whose records do not exist yet


def period_view(p: Period) -> PeriodView:
    return PeriodView(p.kind, p.key, p.label, p.start, p.end)


# -- the SQL of each section ---------------------------------------------------------------------
_NONE = "CAST(NULL AS uuid)"
# the case's township and contract area: the ones containing its location
_CASE_TOWNSHIP = (
    "(SELECT t.id FROM townships t WHERE t.county_id = c.county_id"
    " AND ST_Intersects(t.geom, c.location) ORDER BY t.code LIMIT 1)"
)
_CASE_AREA = (
    "(SELECT a.id FROM patrol_areas a WHERE a.county_id = c.county_id AND a.active"
    " AND ST_Intersects(a.geom, c.location) ORDER BY a.code LIMIT 1)"
)
_AREA_TOWNSHIPS = "CROSS JOIN LATERAL unnest(a.township_ids) AS tw(id)"

# section -> grouping -> (group key expression, extra FROM clause); absent: not grouped so
_GROUPS: dict[str, dict[str, tuple[str, str]]] = {
    "patrols": {
        "area": ("s.area_id", ""),
        "person": ("s.inspector_id", ""),
        "township": ("tw.id", _AREA_TOWNSHIPS),
    },
    "plans": {"area": ("p.area_id", ""), "township": ("tw.id", _AREA_TOWNSHIPS)},
    "findings": {
        "area": ("s.area_id", ""),
        "person": ("f.reported_by", ""),
        "township": ("f.township_id", ""),
    },
    "stops": {
        "area": ("t.area_id", ""),
        "person": ("t.handled_by", ""),
        "township": ("t.township_id", ""),
    },
    "duty": {"person": ("d.recorded_by", "")},
    "satellite": {
        "area": ("k.area_id", ""),
        "person": ("r.verified_by", ""),
        "township": ("k.township_id", ""),
    },
    "cases": {
        "area": (_CASE_AREA, ""),
        "person": ("c.opened_by", ""),
        "township": (_CASE_TOWNSHIP, ""),
    },
}
_GROUPS["referrals"] = _GROUPS["cases"]

_SQL: dict[str, list[str]] = {
    "patrols": [
        """SELECT {g} AS g, count(*) AS count, count(*) FILTER (WHERE s.is_night) AS night,
                   coalesce(sum(s.distance_m), 0) / 1000.0 AS distance_km,
                   coalesce(sum(s.duration_s), 0) / 3600.0 AS hours
              FROM patrol_sessions s JOIN patrol_areas a ON a.id = s.area_id {join}
             WHERE s.county_id = :county AND s.started_at >= :lo AND s.started_at < :hi
               AND s.ended_at IS NOT NULL AND s.duration_s >= :min_s GROUP BY 1""",
        """SELECT {g} AS g, count(DISTINCT v.target_id) AS targets_visited
              FROM patrol_target_visits v JOIN patrol_sessions s ON s.id = v.session_id
              JOIN patrol_areas a ON a.id = s.area_id {join}
             WHERE s.county_id = :county AND s.started_at >= :lo AND s.started_at < :hi
               AND s.ended_at IS NOT NULL AND s.duration_s >= :min_s GROUP BY 1""",
    ],
    "plans": [
        """SELECT {g} AS g, sum(p.quota) AS quota
             FROM patrol_plans p JOIN patrol_areas a ON a.id = p.area_id {join}
            WHERE p.county_id = :county AND p.month BETWEEN :start AND :end GROUP BY 1""",
    ],
    "findings": [
        """SELECT {g} AS g, count(*) AS count,
                  coalesce(sum(f.occupied_area_m2), 0) / 666.67 AS area_mu
             FROM patrol_findings f JOIN patrol_sessions s ON s.id = f.session_id {join}
            WHERE f.county_id = :county AND f.found_at >= :lo AND f.found_at < :hi
            GROUP BY 1""",
        """SELECT {g} AS g, 'construction.' || f.construction_status AS k, count(*) AS n
             FROM patrol_findings f JOIN patrol_sessions s ON s.id = f.session_id {join}
            WHERE f.county_id = :county AND f.found_at >= :lo AND f.found_at < :hi
            GROUP BY 1, 2""",
        """SELECT {g} AS g, 'land_class.' || coalesce(f.land_class, 'none') AS k, count(*) AS n
             FROM patrol_findings f JOIN patrol_sessions s ON s.id = f.session_id {join}
            WHERE f.county_id = :county AND f.found_at >= :lo AND f.found_at < :hi
            GROUP BY 1, 2""",
    ],
    "stops": [
        """SELECT {g} AS g, count(*) AS count FROM tip_offs t {join}
            WHERE t.county_id = :county AND t.handling = 'stop_order'
              AND t.handled_at >= :lo AND t.handled_at < :hi GROUP BY 1""",
    ],
    "duty": [
        """SELECT {g} AS g, count(*) AS checks, count(*) FILTER (WHERE d.is_night) AS night_checks,
                  count(*) FILTER (WHERE d.status IN ('signs_of_reopening', 'active_mining'))
                    AS rebounds
             FROM patrol_duty_checks d {join}
            WHERE d.county_id = :county AND d.checked_at >= :lo AND d.checked_at < :hi
            GROUP BY 1""",
    ],
    "satellite": [
        """SELECT {g} AS g, count(*) AS verified,
                  coalesce(sum(r.overlay_area_m2) FILTER (WHERE r.outcome = 'illegal'), 0)
                    / 666.67 AS illegal_mu,
                  coalesce(sum(coalesce((r.overlay_areas->>'cultivated')::float, 0)
                             + coalesce((r.overlay_areas->>'permanent_basic_farmland')::float, 0))
                           FILTER (WHERE r.outcome = 'illegal'), 0) / 666.67
                    AS illegal_cultivated_mu
             FROM satellite_tasks k JOIN satellite_results r ON r.id = k.result_id {join}
            WHERE k.county_id = :county AND k.status <> 'sent_back'
              AND r.verified_at >= :lo AND r.verified_at < :hi GROUP BY 1""",
        """SELECT {g} AS g, 'outcome.' || r.outcome AS k, count(*) AS n
             FROM satellite_tasks k JOIN satellite_results r ON r.id = k.result_id {join}
            WHERE k.county_id = :county AND k.status <> 'sent_back'
              AND r.verified_at >= :lo AND r.verified_at < :hi GROUP BY 1, 2""",
    ],
    "cases": [
        """SELECT {g} AS g, count(*) AS opened, coalesce(sum(c.area_total_m2), 0) / 666.67
                    AS area_mu
             FROM cases c {join}
            WHERE c.county_id = :county AND c.created_at >= :lo AND c.created_at < :hi
            GROUP BY 1""",
        """SELECT {g} AS g, count(DISTINCT c.id) FILTER (WHERE e.details->>'to' = 'filed')
                    AS filed,
                  count(DISTINCT c.id) FILTER (WHERE e.details->>'to' = 'closed') AS closed
             FROM case_events e JOIN cases c ON c.id = e.case_id {join}
            WHERE e.county_id = :county AND e.kind = 'status'
              AND e.at >= :lo AND e.at < :hi GROUP BY 1""",
        """SELECT {g} AS g, 'stage.' || coalesce(
                    (SELECT e.details->>'to' FROM case_events e
                      WHERE e.case_id = c.id AND e.kind = 'status' AND e.at < :hi
                      ORDER BY e.at DESC, e.id DESC LIMIT 1), 'clue') AS k, count(*) AS n
             FROM cases c {join}
            WHERE c.county_id = :county AND c.created_at < :hi GROUP BY 1, 2""",
        """SELECT {g} AS g,
                  count(*) FILTER (WHERE st.kind = 'decision') AS penalties,
                  coalesce(sum(p.fine_total_yuan) FILTER (WHERE st.kind = 'decision'), 0)
                    AS fines_decided_yuan,
                  coalesce(sum((st.details->>'paid_yuan')::numeric)
                           FILTER (WHERE st.kind = 'execution'), 0) AS fines_collected_yuan,
                  coalesce(sum((st.details->>'demolished_m2')::float)
                           FILTER (WHERE st.kind = 'execution'), 0) / 666.67 AS demolished_mu,
                  coalesce(sum((st.details->>'farmland_restored_m2')::float)
                           FILTER (WHERE st.kind = 'execution'), 0) / 666.67
                    AS farmland_restored_mu
             FROM case_steps st JOIN cases c ON c.id = st.case_id
             LEFT JOIN case_penalties p ON p.case_id = c.id {join}
            WHERE st.county_id = :county AND st.at >= :lo AND st.at < :hi
              AND (st.kind = 'execution'
                   OR (st.kind = 'decision' AND st.details->>'option' = 'penalty'))
            GROUP BY 1""",
    ],
    "referrals": [
        """SELECT {g} AS g,
                  count(*) FILTER (WHERE f.reported_at >= :lo AND f.reported_at < :hi) AS made,
                  count(*) FILTER (WHERE f.transferred_at >= :lo AND f.transferred_at < :hi)
                    AS transferred,
                  count(*) FILTER (WHERE f.transferred_at >= :lo AND f.transferred_at < :hi
                                     AND f.transferred_at <= f.transfer_due_at)
                    AS transferred_on_time,
                  count(*) FILTER (WHERE f.police_decision = 'filed'
                                     AND f.police_decided_at >= :lo AND f.police_decided_at < :hi)
                    AS accepted
             FROM referrals f JOIN cases c ON c.id = f.case_id {join}
            WHERE f.county_id = :county
              AND ((f.reported_at >= :lo AND f.reported_at < :hi)
                OR (f.transferred_at >= :lo AND f.transferred_at < :hi)
                OR (f.police_decided_at >= :lo AND f.police_decided_at < :hi))
            GROUP BY 1""",
    ],
}
#: which figure keys each section always reports (zeros included)
_KEYS: dict[str, tuple[str, ...]] = {
    s: tuple(k for k in _FIGURES if k.split(".", 1)[0] == s) for s in SECTIONS
}

Values = dict[str | None, dict[str, float | None]]


# -- links ---------------------------------------------------------------------------------------
def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


#: section -> (the list's path, the groupings the list filters on)
_LISTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "patrols": ("/api/v1/patrols", ("area", "person")),
    "findings": ("/api/v1/patrols", ("area", "person")),
    "duty": ("/api/v1/duty-checks", ()),
    "stops": ("/api/v1/tip-offs", ("township",)),
    "tip_offs": ("/api/v1/tip-offs", ("township",)),
    "petitions": ("/api/v1/petitions", ("township",)),
    "satellite": ("/api/v1/satellite/tasks", ("township", "area", "person")),
    "cases": ("/api/v1/cases", ()),
    "referrals": ("/api/v1/referrals", ()),
}
_GROUP_PARAMS = {"township": "township_id", "area": "area_id", "person": "inspector_id"}
#: (section, figure or breakdown) -> the list's own filter (``{code}``: the breakdown's code)
_FILTERS: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("stops", "count"): (("status", "handled"), ("status", "closed")),
    ("tip_offs", "channel"): (("channel", "{code}"),),
    ("tip_offs", "type"): (("clue_type", "{code}"),),
    ("tip_offs", "status"): (("status", "{code}"),),
    ("tip_offs", "late"): (("overdue", "true"),),
    ("petitions", "form"): (("form", "{code}"),),
    ("petitions", "category"): (("category", "{code}"),),
    ("petitions", "status"): (("status", "{code}"),),
    ("satellite", "outcome"): (("outcome", "{code}"),),
    ("satellite", "illegal_mu"): (("outcome", "illegal"),),
    ("satellite", "illegal_cultivated_mu"): (("outcome", "illegal"),),
    ("cases", "stage"): (("status", "{code}"),),
    ("cases", "opened"): (("opened_since", "{lo}"),),
    ("cases", "area_mu"): (("opened_since", "{lo}"),),
    ("cases", "filed"): (("status", "filed"),),
    ("cases", "closed"): (("status", "closed"),),
    ("referrals", "accepted"): (("status", "police_filed"), ("status", "handed_over")),
}


def _period_query(section: str, period: Period, lo: str, hi: str) -> list[tuple[str, str]]:
    if section in {"patrols", "findings"}:
        return [("since", lo), ("until", hi)]
    if section == "duty":
        return [("since", lo)]
    if section in {"tip_offs", "stops"}:
        return [("received_from", lo), ("received_to", hi), ("duplicates", "false")]
    if section == "petitions":
        return [
            ("received_from", period.start.isoformat()),
            ("received_to", period.end.isoformat()),
        ]
    return []


def _link(
    key: str, period: Period, lo: datetime, hi: datetime, group: tuple[str, str] | None
) -> str:
    """The list behind a figure: its path, the period's filters, the figure's own filter and
    the group's (where the list has them)."""
    section, _, rest = key.partition(".")
    part, _, code = rest.partition(".")
    path, groupable = _LISTS[section]
    q = [
        (name, value.format(code=code, lo=_iso(lo)))
        for name, value in _FILTERS.get((section, part), ())
    ]
    if section != "stops":
        q = _period_query(section, period, _iso(lo), _iso(hi)) + q
    else:
        q += _period_query(section, period, _iso(lo), _iso(hi))
    if group is not None and group[0] in groupable and group[1]:
        q.append((_GROUP_PARAMS[group[0]], group[1]))
    return f"{path}?{urlencode(q)}" if q else path


# -- the service ---------------------------------------------------------------------------------
class StatisticsService:
    """Figures of one county for captains and admins (reads only, apart from refreshing
    stale patrol summaries as the coverage review does)."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        config: PatrolConfig | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.session = session
        self.config = config or PatrolConfig()
        self._clock = clock

    async def figures(
        self,
        principal: Principal,
        *,
        period: str | None = None,
        day: date | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
        group_by: str = "county",
        sections: Sequence[str] | None = None,
    ) -> StatisticsView:
        """``GetStatistics``: ``period`` with ``day``, or ``date_from`` and ``date_to``."""
        require_role(principal, *MANAGERS, action="read statistics")
        try:
            found = parse_period(period, day, date_from, date_to)
        except ValueError as exc:
            raise InvalidReportError(
                "give period (week, month, quarter, half, year) and date, or from and to",
                code=codes.INVALID_FIGURES_PERIOD,
            ) from exc
        return await self.statistics(
            principal, found, group_by=group_by, sections=sections or SECTIONS
        )

    async def statistics(
        self,
        principal: Principal,
        period: Period,
        *,
        group_by: str = "county",
        sections: Sequence[str] = SECTIONS,
    ) -> StatisticsView:
        """Every figure of ``sections`` for ``period``, the previous period and the same
        period last year, in total and (unless ``group_by`` is ``county``) per group."""
        require_role(principal, *MANAGERS, action="read statistics")
        if group_by not in GROUPINGS:
            raise ValueError(f"group_by must be one of {', '.join(GROUPINGS)}")
        periods = (period, period.previous(), period.last_year())
        totals = [await self.values(principal.county_id, p, "county", sections) for p in periods]
        groups: list[Values] = []
        if group_by != "county":
            groups = [
                await self.values(principal.county_id, p, group_by, sections) for p in periods
            ]
        lo, hi = period.bounds(self.config.tz)
        missing: tuple[str, ...] = ()  # every figure has its records now

        def figures(
            group: str | None, sets: list[Values], keys: Sequence[str]
        ) -> tuple[FigureView, ...]:
            ref = None if group is None else (group_by, group)
            out = []
            for key in keys:
                label, unit = _FIGURES[key]
                vals = [s.get(group, {}).get(key, 0.0) for s in sets]
                if key in missing:
                    vals = [None, None, None]
                out.append(
                    FigureView(
                        key,
                        key.split(".", 1)[0],
                        label,
                        unit,
                        vals[0],
                        vals[1],
                        vals[2],
                        _link(key, period, lo, hi, ref),
                    )
                )
            return tuple(out)

        keys = [k for s in sections for k in _KEYS[s]]
        group_views: list[GroupView] = []
        if group_by != "county":
            names = await self.names(principal.county_id, group_by)
            seen = {g for s in groups for g in s}
            order = sorted(seen, key=lambda g: (g is None, names.get(g or "", ""), g or ""))
            grouped = [k for k in keys if _groupable(k, group_by)]
            for g in order:
                group_views.append(
                    GroupView(
                        g or "",
                        names.get(g or "", "") if g else "（未关联）",
                        figures(g, groups, grouped),
                    )
                )
        return StatisticsView(
            period=period_view(period),
            previous=period_view(periods[1]),
            last_year=period_view(periods[2]),
            group_by=group_by,
            figures=figures(None, totals, keys),
            groups=tuple(group_views),
            missing=missing,
        )

    async def values(
        self,
        county_id: uuid.UUID,
        period: Period,
        group_by: str,
        sections: Sequence[str] = SECTIONS,
    ) -> Values:
        """group key (None: the county, or records linked to no group) -> figure key ->
        value, for one period."""
        lo, hi = period.bounds(self.config.tz)
        params: dict[str, Any] = {
            "county": county_id,
            "lo": lo,
            "hi": hi,
            "start": period.start,
            "end": period.end,
            "min_s": self.config.min_counted_s,
        }
        out: Values = defaultdict(dict)
        for section in sections:
            if section == "patrols":
                await self._refresh_stale(county_id, lo, hi)
                await self._run("patrols", group_by, params, out)
                await self._run("plans", group_by, params, out, prefix="patrols")
            elif section == "tip_offs":
                await self._tip_offs(county_id, lo, hi, group_by, out)
            elif section == "petitions":
                await self._petitions(county_id, period, group_by, out)
            else:
                await self._run(section, group_by, params, out)
            if section == "duty" and group_by == "county":
                await self._duty(county_id, lo, hi, out)
        return out

    async def _run(
        self, section: str, group_by: str, params: dict[str, Any], out: Values, *, prefix: str = ""
    ) -> None:
        if group_by == "county":
            expr, join = _NONE, ""
        elif group_by in _GROUPS.get(section, {}):
            expr, join = _GROUPS[section][group_by]
        else:
            return
        name = prefix or section
        for sql in _SQL[section]:
            result = await self.session.execute(text(sql.format(g=expr, join=join)), params)
            cols = list(result.keys())
            for row in result:
                g = None if row[0] is None else str(row[0])
                if cols[1:] == ["k", "n"]:
                    out[g][f"{name}.{row[1]}"] = float(row[2] or 0)
                else:
                    for col, value in zip(cols[1:], row[1:], strict=True):
                        out[g][f"{name}.{col}"] = round(float(value or 0), 4)

    async def _refresh_stale(self, county_id: uuid.UUID, lo: datetime, hi: datetime) -> None:
        stale = select(PatrolSession).where(
            PatrolSession.county_id == county_id,
            PatrolSession.started_at >= lo,
            PatrolSession.started_at < hi,
            PatrolSession.ended_at.is_not(None),
            PatrolSession.summary_stale,
        )
        for patrol in (await self.session.execute(stale)).scalars().all():
            await refresh_summary(self.session, patrol, self.config)

    async def _tip_offs(
        self, county_id: uuid.UUID, lo: datetime, hi: datetime, group_by: str, out: Values
    ) -> None:
        if group_by not in {"county", "township", "area"}:
            return
        group = {"township": TipOff.township_id, "area": TipOff.area_id}.get(group_by)
        g = group if group is not None else TipOff.county_id
        clues = (
            select(
                g.label("g"),
                TipOff.channel,
                TipOff.clue_type,
                TipOff.status,
                late_condition(self._clock()).label("late"),
            )
            .where(
                TipOff.county_id == county_id,
                TipOff.duplicate_of.is_(None),
                TipOff.received_at >= lo,
                TipOff.received_at < hi,
            )
            .subquery()
        )
        cols = (clues.c.g, clues.c.channel, clues.c.clue_type, clues.c.status, clues.c.late)
        rows = await self.session.execute(select(*cols, func.count()).group_by(*cols))
        for key, channel, clue_type, status, late, n in rows:
            figs = out[None if group is None or key is None else str(key)]
            for fig in (
                "tip_offs.count",
                f"tip_offs.channel.{channel}",
                f"tip_offs.type.{clue_type}",
                f"tip_offs.status.{status}",
                "tip_offs.late" if late else "tip_offs.on_time",
            ):
                figs[fig] = (figs.get(fig) or 0.0) + n

    async def _petitions(
        self, county_id: uuid.UUID, period: Period, group_by: str, out: Values
    ) -> None:
        if group_by not in {"county", "township"}:
            return
        reader = system_reader(county_id)
        f = await petition_figures(
            self.session,
            reader,
            received_from=period.start,
            received_to=period.end,
            now=self._clock(),
        )
        if group_by == "township":
            for t in f.by_township:
                out[None if t.township_id is None else str(t.township_id)]["petitions.count"] = (
                    t.count
                )
            return
        figs = out[None]
        figs["petitions.count"] = f.total
        for part, counts in (
            ("form", f.by_form),
            ("category", f.by_category),
            ("status", f.by_status),
        ):
            for code, n in counts.items():
                figs[f"petitions.{part}.{code}"] = n
        figs["petitions.group"] = f.group_petitions
        figs["petitions.on_time"] = f.on_time
        figs["petitions.late"] = f.late

    async def _duty(self, county_id: uuid.UUID, lo: datetime, hi: datetime, out: Values) -> None:
        from patrol.duty import DutyService  # noqa: PLC0415 - the duty service's own imports

        now = min(self._clock(), hi)
        compliance = await DutyService(
            self.session, GeofenceDutyRoster(), config=self.config
        ).compliance(county_id, lo, hi, now=now)
        out[None]["duty.compliance_pct"] = round(compliance.ratio * 100, 2)
        out[None]["duty.members_overdue"] = compliance.members_overdue

    async def names(self, county_id: uuid.UUID, group_by: str) -> dict[str, str]:
        sql = {
            "township": "SELECT id, name FROM townships WHERE county_id = :c",
            "area": "SELECT id, code || ' ' || name FROM patrol_areas WHERE county_id = :c",
            "person": "SELECT id, display_name FROM users WHERE county_id = :c",
        }[group_by]
        rows = await self.session.execute(text(sql), {"c": county_id})
        return {str(i): str(n) for i, n in rows}


def _groupable(key: str, group_by: str) -> bool:
    section = key.split(".", 1)[0]
    if key in {"duty.compliance_pct", "duty.members_overdue"}:
        return False
    if section == "tip_offs":
        return group_by in {"township", "area"}
    if section == "petitions":
        return key == "petitions.count" and group_by == "township"
    if key == "patrols.quota":
        return group_by in _GROUPS["plans"]
    return group_by in _GROUPS.get(section, {})
