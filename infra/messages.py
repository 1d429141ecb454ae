"""The one message catalogue: every user-facing text in Simplified Chinese and English.

Codes are stable English identifiers (``case_not_found``, ``duty_overdue``); what a person
reads is rendered from the code, in their language, when it is shown::

    render("tile_too_large", "zh", {"limit": 500_000, "zoom": 12, "size": 812_000})
    negotiate("en-US,en;q=0.9")  # "en"

Chinese is the default language; English is given on ``Accept-Language: en``
(:func:`negotiate`). Each :class:`Message` has a Chinese and an English template in
``str.format`` style with named fields. A template with fields has a plain form without
them (``zh_plain``/``en_plain``), used when a caller lacks a value (an old stored row, an
error raised without that fact). Parameters named in ``labels`` are codes themselves
(a roster role, a check status) and are rendered from :data:`LABELS` first.

The English text an error was raised with is more specific than a per-code template (one
code, e.g. ``invalid_time``, covers several rules), so :func:`render` keeps a ``fallback``
text written in the wanted language (Chinese text for ``zh``, other text for ``en``) and
uses the catalogue only for the other language.

Every code's text comes from the error catalogue (:mod:`infra.error_codes`: status, title
and template of each domain error code, HTTP problem code and per-item code, such as track
points, layer import rejections and repairs, sync receipts); this module adds the problem
titles by HTTP status (:func:`title`), the alerts (``alert.<kind>``, :data:`ALERTS`) and the
field messages of schema validation (:func:`validation_message`).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from infra.error_codes import CATALOGUE, ErrorCode

__all__ = [
    "ALERTS",
    "DEFAULT_LANG",
    "LABELS",
    "MESSAGES",
    "TITLES",
    "Lang",
    "Message",
    "label",
    "negotiate",
    "placeholders",
    "render",
    "title",
    "validation_detail",
    "validation_message",
]

Lang = Literal["zh", "en"]
DEFAULT_LANG: Final[Lang] = "zh"


@dataclass(frozen=True, slots=True)
class Message:
    zh: str
    en: str
    zh_plain: str = ""
    en_plain: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)

    def template(self, lang: Lang) -> str:
        return self.zh if lang == "zh" else self.en

    def plain(self, lang: Lang) -> str:
        if lang == "zh":
            return self.zh_plain or self.zh
        return self.en_plain or self.en


def _m(zh: str, en: str, zh_plain: str = "", en_plain: str = "", **labels: str) -> Message:
    return Message(zh, en, zh_plain, en_plain, labels)


# -- vocabularies: codes that appear as values inside messages -----------------------------------

LABELS: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "duty_role": {
        "township_leader": ("乡镇领导班子成员", "township leader"),
        "safety_officer": ("乡镇安监站工作人员", "safety officer"),
        "village_liaison_cadre": ("联村干部", "village liaison cadre"),
        "land_resources_staff": ("国土资源所工作人员", "land resources staff"),
        "village_cadre": ("村干部", "village cadre"),
    },
    "report_status": {
        "queued": ("排队中", "queued"),
        "running": ("生成中", "being generated"),
        "done": ("已生成", "generated"),
        "failed": ("生成失败", "failed"),
    },
    "report_template": {
        "monthly": ("执法监察大队月报", "the brigade's monthly report"),
        "quarterly_tables": ("季度统计报表", "the quarterly statistics tables"),
        "annual_tables": ("年度统计报表", "the annual statistics tables"),
        "joint_meeting_bulletin": ("联席会议通报", "the joint meeting's bulletin"),
    },
    "check_status": {
        "still_closed": ("仍处于关停状态", "still closed"),
        "signs_of_reopening": ("有复工迹象", "signs of reopening"),
        "active_mining": ("正在开采", "active mining"),
    },
    "review_source": {
        "evidence": ("拍摄了取证材料", "evidence was taken"),
        "finding": ("记录了巡查发现", "a finding was recorded"),
    },
    "tip_off_step": {
        "decide": ("受理决定", "the decision"),
        "verify": ("实地核查", "the field verification"),
        "feedback": ("答复举报人", "the feedback to the reporter"),
    },
    "satellite_task_status": {
        "unassigned": ("未分派", "unassigned"),
        "assigned": ("待核查", "assigned"),
        "verified": ("待审核", "verified, awaiting review"),
        "sent_back": ("已退回", "sent back"),
        "passed": ("审核通过", "passed review"),
        "submitted": ("已上报", "submitted"),
    },
    "tip_off_status": {
        "received": ("已登记", "received"),
        "accepted": ("已受理", "accepted"),
        "refused": ("不予受理", "refused"),
        "transferred": ("已转送", "transferred"),
        "verifying": ("核查中", "being verified"),
        "verified": ("已核查", "verified"),
        "handled": ("已处理", "handled"),
        "closed": ("已办结", "closed"),
    },
    "clue_type": {
        "land_illegal_approval": ("违法批地", "illegal land approval"),
        "land_illegal_occupation": ("违法占地", "illegal land occupation"),
        "land_illegal_transfer": ("违法转让土地使用权", "illegal land-use right transfer"),
        "land_farmland_destruction": ("破坏耕地", "farmland destruction"),
        "land_other": ("其他土地违法", "other land violation"),
        "mineral_illegal_exploration": ("违法勘查", "illegal exploration"),
        "mineral_illegal_mining": ("违法开采", "illegal mining"),
        "mineral_illegal_right_approval": ("违法批准矿业权", "illegal approval of mining rights"),
        "mineral_illegal_right_transfer": ("违法转让矿业权", "illegal transfer of mining rights"),
        "mineral_other": ("其他矿产违法", "other mineral violation"),
    },
    "view_type": {
        "far": ("远景", "far view"),
        "close": ("近景", "close-up"),
        "corner": ("四至", "corner"),
        "interior": ("内部", "interior"),
    },
    "coverage_csv": {
        "kind": ("类型", "kind"),
        "id": ("编号", "id"),
        "code": ("代码", "code"),
        "name": ("名称", "name"),
        "patrols": ("巡查次数", "patrols"),
        "quota": ("月度要求次数", "quota"),
        "quota_met": ("是否达标", "quota_met"),
        "night_patrols": ("夜间巡查次数", "night_patrols"),
        "night_required": ("夜间要求次数", "night_required"),
        "weeks_met": ("达标周数", "weeks_met"),
        "weeks_total": ("总周数", "weeks_total"),
        "distance_km": ("巡查里程（公里）", "distance_km"),
        "hours": ("巡查时长（小时）", "hours"),
        "targets_visited": ("已到访目标数", "targets_visited"),
        "targets_planned": ("计划目标数", "targets_planned"),
        "duty_compliance": ("五包一履职率", "duty_compliance"),
    },
    "geometry_problem": {
        "empty": ("空几何", "empty"),
        "wrong_type": ("不是面（Polygon/MultiPolygon）", "not a Polygon or MultiPolygon"),
        "non_finite": ("坐标含非有限数", "coordinates are not finite"),
        "out_of_range": ("坐标超出经纬度范围", "coordinates out of range"),
        "malformed": ("格式错误", "malformed"),
        "invalid": ("无法修复", "not repairable"),
        "nothing_stored": ("没有可存储的要素", "no feature could be stored"),
        "ring_not_closed": (
            "环未闭合（最后一个坐标须与第一个相同）",
            "a ring is not closed (its last position must repeat its first)",
        ),
        "ring_too_short": ("环的坐标少于 4 个", "a ring has fewer than 4 positions"),
        "not_2d": ("坐标须为二维 [经度, 纬度]", "positions must be 2-D [longitude, latitude]"),
        "not_numbers": ("坐标须为数字", "coordinates must be numbers"),
    },
    "layer_kind": {
        "parcels": ("地类图斑", "parcels"),
        "planning_zones": ("规划分区", "planning_zones"),
        "mine_sites": ("矿点", "mine_sites"),
        "change_polygons": ("变化图斑", "change_polygons"),
    },
    # the report of ``patrol layers import`` (``str.format`` fields ``n``, ``reason``, ``name``)
    "cli_import": {
        "dry_run": ("试导入，未存储", "dry run, nothing stored"),
        "version": ("第 {n} 版", "version {n}"),
        "format": ("格式", "format"),
        "source_crs": ("源坐标系", "source CRS"),
        "read": ("读取", "read"),
        "stored": ("存储", "stored"),
        "repaired": ("修复", "repaired"),
        "rejected": ("拒收", "rejected"),
        "layer": ("图层", "layer"),
        "encoding": ("编码", "encoding"),
        "warning": ("警告", "warning"),
        "repaired_feature": ("已修复要素 {n}：{reason}", "repaired feature {n}: {reason}"),
        "rejected_feature": ("拒收要素 {n}：{reason}", "rejected feature {n}: {reason}"),
        "more": ("……另有 {n} 条（见图层版本）", "... and {n} more (see the layer version)"),
        "no_features": (
            "{name} 中没有带几何图形的要素（为空、全为空值或只有空白），未导入任何内容",
            "{name} has no feature with a geometry (empty, all null or only whitespace); "
            "nothing imported",
        ),
    },
    "petition_step": {
        "decision": ("受理告知", "acceptance decision"),
        "reply": ("书面答复", "written reply"),
        "review_request": ("申请复查", "request for review"),
        "review_answer": ("复查意见", "review answer"),
        "re_review_request": ("申请复核", "request for re-review"),
        "re_review_answer": ("复核意见", "re-review answer"),
    },
    "case_step": {
        "clue": ("线索核查", "the check that found the clue"),
        "filing": ("立案", "filing"),
        "investigation": ("调查取证", "investigation"),
        "legal_review": ("法制审核", "legal review"),
        "collective_discussion": ("集体讨论", "collective discussion"),
        "notice": ("行政处罚告知", "notice of the intended penalty"),
        "statement": ("陈述申辩", "statement and defence"),
        "hearing_requested": ("听证申请", "hearing request"),
        "hearing_notified": ("听证通知", "hearing notice"),
        "hearing_held": ("举行听证", "hearing"),
        "decision": ("处罚决定", "decision"),
        "service": ("送达", "service"),
        "execution": ("执行", "execution"),
        "court_enforcement": ("申请法院强制执行", "court enforcement"),
        "closing": ("结案", "closing"),
        "clock_pause": ("期限中止计算", "pause of the time limit"),
        "clock_resume": ("期限恢复计算", "resumption of the time limit"),
        "suspend": ("中止调查", "suspension"),
        "resume": ("恢复调查", "resumption"),
        "terminate": ("终止调查", "termination"),
        "withdraw": ("撤销立案", "withdrawal"),
        "extension_request": ("延期申请", "extension request"),
        "extension_approval": ("延期审批", "extension approval"),
    },
    "role": {
        "inspector": ("巡查员", "inspector"),
        "joint_team": ("联合执法队员", "joint team member"),
        "captain": ("队长", "captain"),
        "security_squad": ("治安中队", "security squad"),
        "admin": ("管理员", "admin"),
        "clue_desk": ("线索受理员", "clue desk"),
        "procuratorate": ("检察监督", "procuratorate"),
    },
}


def label(vocabulary: str, code: str, lang: Lang) -> str:
    """A code's name in ``lang`` (the code itself when the vocabulary does not know it)."""
    names = LABELS.get(vocabulary, {}).get(code)
    if names is None:
        return code
    return names[0] if lang == "zh" else names[1]


# -- problem titles, by HTTP status --------------------------------------------------------------

TITLES: Final[dict[int, tuple[str, str]]] = {
    400: ("请求格式有误", "Bad Request"),
    401: ("未登录或凭据无效", "Unauthorized"),
    403: ("无权执行此操作", "Forbidden"),
    404: ("未找到", "Not Found"),
    405: ("不支持该请求方法", "Method Not Allowed"),
    406: ("无法提供所要求的格式", "Not Acceptable"),
    409: ("与当前状态冲突", "Conflict"),
    413: ("请求体过大", "Content Too Large"),
    415: ("不支持的内容类型", "Unsupported Media Type"),
    422: ("请求无法受理", "Unprocessable Content"),
    429: ("请求过于频繁", "Too Many Requests"),
    500: ("服务器内部错误", "Internal Server Error"),
    503: ("服务暂时不可用", "Service Unavailable"),
}


def title(status: int, lang: Lang) -> str:
    zh, en = TITLES.get(status, ("请求失败", "Request failed"))
    return zh if lang == "zh" else en


# -- the catalogue -------------------------------------------------------------------------------


def _from(entry: ErrorCode) -> Message:
    return Message(entry.zh, entry.en, entry.zh_title, entry.en_title, entry.labels)


# alerts (``alert.<kind>``; the stored message is the Chinese rendering): messages, not codes
ALERTS: Final[dict[str, Message]] = {
    "alert.duty_overdue": _m(
        "{site}：{role}{name}逾期未巡查（每 {cycle_days} 天一次）",
        "{site}: {role} {name} is overdue (every {cycle_days} days)",
        "包保人员逾期未巡查",
        "a roster member is overdue",
        role="duty_role",
    ),
    "alert.site_reopening": _m(
        "{site}：{role}报告{status}",
        "{site}: {status} reported by the {role}",
        "已关停点位有复工迹象",
        "signs of reopening at a closed site",
        role="duty_role",
        status="check_status",
    ),
    "alert.site_active_mining": _m(
        "{site}：{role}报告{status}",
        "{site}: {status} reported by the {role}",
        "已关停点位正在开采",
        "active mining at a closed site",
        role="duty_role",
        status="check_status",
    ),
    "alert.site_rebound_review": _m(
        "{site}：已关停点位{source}，请核查是否死灰复燃",
        "{site}: {source} at a closed site; check whether it is reopening",
        "已关停点位有新记录，请核查是否死灰复燃",
        "a closed site has a new record; check whether it is reopening",
        source="review_source",
    ),
    "alert.petition_overdue": _m(
        "信访事项{reg_no}：{step}已逾期（应于 {due_on} 前完成）",
        "petition {reg_no}: the {step} is overdue (due by {due_on})",
        "信访事项办理逾期",
        "a petition step is overdue",
        step="petition_step",
    ),
    "alert.referral_suggested": _m(
        "{subject}达到移送标准，建议审查是否移送：{crime}（{rule_code}）",
        "{subject} meets a referral threshold; review whether to refer it: {crime} ({rule_code})",
        "达到移送标准，建议审查是否移送公安机关",
        "meets a referral threshold; review whether to refer it to the police",
    ),
    "alert.report_overdue": _m(
        "{template}（{period}）未按期生成（应于 {due_on} 前完成）",
        "{template} ({period}) was not produced by {due_on}",
        "报表未按期生成",
        "a report was not produced by its due date",
        template="report_template",
    ),
    "alert.case_step_overdue": _m(
        "案件{case_no}：{step}已逾期（期限{due}）",
        "case {case_no}: {step} is overdue (due {due})",
        "案件办理步骤逾期",
        "a case step is overdue",
        step="case_step",
    ),
    "alert.tip_off_overdue": _m(
        "举报线索{receipt_no}：{step}已逾期（期限{due}）",
        "tip-off {receipt_no}: {step} is overdue (due {due})",
        "举报线索办理逾期",
        "a tip-off step is overdue",
        step="tip_off_step",
    ),
}

MESSAGES: Final[dict[str, Message]] = {
    **{code: _from(entry) for code, entry in CATALOGUE.items()},
    **ALERTS,
}

_FIELD = string.Formatter()


def placeholders(template: str) -> set[str]:
    """The named fields of a ``str.format`` template."""
    return {name for _, name, _, _ in _FIELD.parse(template) if name}


_CJK = re.compile(r"[\u4e00-\u9fff]")


def _written_in(text: str, lang: Lang) -> bool:
    return bool(_CJK.search(text)) == (lang == "zh")


def render(
    code: str,
    lang: Lang = DEFAULT_LANG,
    params: Mapping[str, Any] | None = None,
    fallback: str | None = None,
) -> str:
    """The message for ``code`` in ``lang``, its fields filled from ``params``.

    A ``fallback`` already written in ``lang`` (the text an error was raised with) wins; a
    code the catalogue does not know gives the fallback, or the code itself.
    """
    if fallback and _written_in(fallback, lang):
        return fallback
    entry = MESSAGES.get(code)
    if entry is None:
        return fallback or code
    values = dict(params or {})
    for name, vocabulary in entry.labels.items():
        if isinstance(values.get(name), str):
            values[name] = label(vocabulary, values[name], lang)
    try:
        return entry.template(lang).format_map(values)
    except (KeyError, IndexError, ValueError):
        return entry.plain(lang)


# -- Accept-Language -----------------------------------------------------------------------------


def negotiate(header: str | None) -> Lang:
    """``zh`` or ``en`` for an ``Accept-Language`` header, by q-value (ties: first listed).

    Chinese when the header is missing, names neither language, or prefers ``*``.
    """
    best: tuple[float, int, Lang] | None = None
    for position, item in enumerate((header or "").split(",")):
        tag, _, rest = item.strip().partition(";")
        tag = tag.strip().lower()
        q = 1.0
        for param in rest.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        primary = tag.split("-", 1)[0]
        lang: Lang | None = "en" if primary == "en" else "zh" if primary in {"zh", "*"} else None
        if lang is None or q <= 0.0:
            continue
        if best is None or q > best[0]:
            best = (q, position, lang)
    return DEFAULT_LANG if best is None else best[2]


# -- schema validation (msgspec's messages) ------------------------------------------------------

_TYPE_NAMES: Final[dict[str, str]] = {
    "int": "整数",
    "float": "数字",
    "str": "字符串",
    "bool": "布尔值",
    "null": "空值",
    "array": "数组",
    "object": "对象",
    "uuid": "UUID",
    "datetime": "带时区的日期时间",
    "date": "日期",
    "time": "时间",
    "decimal": "十进制数",
    "bytes": "二进制数据",
}

_OPS: Final[dict[str, str]] = {">=": "不小于", "<=": "不大于", ">": "大于", "<": "小于"}


def _type_zh(spec: str) -> str:
    return " 或 ".join(_TYPE_NAMES.get(t.strip(), t.strip()) for t in spec.split("|"))


_SHAPES: Final[tuple[tuple[re.Pattern[str], Any], ...]] = (
    (
        re.compile(r"^Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`$"),
        lambda m: f"应为{_type_zh(m['want'])}，实际为{_type_zh(m['got'])}",
    ),
    (
        re.compile(r"^Object missing required field `(?P<name>[^`]+)`$"),
        lambda m: f"缺少必填字段 {m['name']}",
    ),
    (
        re.compile(r"^Expected `(?P<want>[^`]+)` of length (?P<op>[<>]=?) (?P<n>\d+)$"),
        lambda m: f"应为长度{_OPS[m['op']]} {m['n']} 的{_type_zh(m['want'])}",
    ),
    (
        re.compile(r"^Expected `(?P<want>[^`]+)` (?P<op>[<>]=?) (?P<n>[-\d.e+]+)$"),
        lambda m: f"应为{_OPS[m['op']]} {m['n']} 的{_type_zh(m['want'])}",
    ),
    (
        re.compile(r"^Expected `(?P<want>[^`]+)` that is a multiple of (?P<n>[-\d.e+]+)$"),
        lambda m: f"应为 {m['n']} 的整数倍",
    ),
    (
        re.compile(r"^Expected `(?P<want>[^`]+)` matching regex (?P<re>.+)$"),
        lambda m: f"格式不符合要求（应匹配 {m['re']}）",
    ),
    (re.compile(r"^Invalid enum value (?P<v>.+)$"), lambda m: f"取值 {m['v']} 不在允许范围内"),
    (
        re.compile(r"^Object contains unknown field `(?P<name>[^`]+)`$"),
        lambda m: f"包含未知字段 {m['name']}",
    ),
    (
        re.compile(r"^Expected `datetime` with a timezone component$"),
        lambda _m: "应为带时区的日期时间",
    ),
    (
        re.compile(r"^Expected `(?P<want>[^`]+)` without a timezone component$"),
        lambda m: f"应为不带时区的{_type_zh(m['want'])}",
    ),
    (
        re.compile(r"^Invalid RFC3339 encoded datetime$"),
        lambda _m: "日期时间格式无效（应为 RFC 3339）",
    ),
    (re.compile(r"^Invalid (?P<what>[A-Za-z0-9 ]+)$"), lambda m: f"{m['what']} 格式无效"),
)


def validation_message(message: str, lang: Lang = DEFAULT_LANG) -> str:
    """msgspec's field message (``Expected `int`, got `str```) in ``lang``; unknown shapes
    are kept as they are."""
    if lang == "en":
        return message
    text = message.strip()
    for pattern, write in _SHAPES:
        match = pattern.match(text)
        if match is not None:
            return str(write(match))
    return text


def validation_detail(code: str, message: str, lang: Lang = DEFAULT_LANG) -> str:
    """A whole msgspec error (``Expected `str`, got `int` - at `$.ops[1].note```) in
    ``lang``: for Chinese the catalogue's text for ``code``, the field path and the message."""
    if lang == "en":
        return message
    text, _, where = message.partition(" - at `$")
    path = where.rstrip("`").lstrip(".")
    head = render(code, lang)
    shown = validation_message(text, lang)
    return f"{head}：{path}：{shown}" if path else f"{head}：{shown}"
