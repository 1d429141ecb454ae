"""The texts of the case file's documents, as HTML for :func:`infra.documents.render_pdf`.

Each kind of :class:`~evidence.cases.document_models.DocumentKind` has a template: a
function of :class:`DocumentData` (the case's facts gathered by
:mod:`evidence.cases.documents`) returning the body's HTML. Every value from the case is
escaped (``html.escape``); nothing else is interpolated. The head (the bureau's name, the
title, the number) and the signature and seal placeholders are shared.

Money is written twice, in figures and in Chinese capital numerals (:func:`yuan_capitals`:
``150000`` → ``壹拾伍万元整``), as financial documents require.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from evidence.cases.document_models import DocumentKind
from infra.scope import COUNTY_TZ

__all__ = [
    "CSS",
    "TITLES",
    "DocumentData",
    "county_short",
    "document_number",
    "render_document",
    "yuan_capitals",
]

TITLES: dict[DocumentKind, str] = {
    DocumentKind.FILING_APPROVAL: "立案审批表",
    DocumentKind.INSPECTION_RECORD: "现场勘验（检查）笔录",
    DocumentKind.INQUIRY_RECORD: "询问笔录",
    DocumentKind.STOP_ORDER: "责令停止违法行为通知书",
    DocumentKind.PENALTY_NOTICE: "行政处罚告知书",
    DocumentKind.HEARING_NOTICE: "听证告知书",
    DocumentKind.DECISION: "行政处罚决定书",
    DocumentKind.SERVICE_RECEIPT: "送达回证",
    DocumentKind.CLOSING_APPROVAL: "结案审批表",
    DocumentKind.REFERRAL_LETTER: "涉嫌犯罪案件移送书",
}
# the character of each kind in its number: 某县自然资罚〔2026〕12号
_NUMBER_MARKS: dict[DocumentKind, str] = {
    DocumentKind.FILING_APPROVAL: "立",
    DocumentKind.INSPECTION_RECORD: "勘",
    DocumentKind.INQUIRY_RECORD: "询",
    DocumentKind.STOP_ORDER: "停",
    DocumentKind.PENALTY_NOTICE: "告",
    DocumentKind.HEARING_NOTICE: "听",
    DocumentKind.DECISION: "罚",
    DocumentKind.SERVICE_RECEIPT: "送",
    DocumentKind.CLOSING_APPROVAL: "结",
    DocumentKind.REFERRAL_LETTER: "移",
}
_MEASURES = {
    "return_land": "责令退还非法占用的土地",
    "demolish": "限期拆除在非法占用的土地上新建的建筑物和其他设施",
    "confiscate_buildings": "没收在非法占用的土地上新建的建筑物和其他设施",
    "confiscate_gains": "没收违法所得",
    "confiscate_ore": "没收采出的矿产品",
    "restore_farmland": "限期恢复土地原状",
    "suspend_production": "责令停产停业",
    "revoke_licence": "吊销许可证照",
}
_SERVICE_METHODS = {
    "direct": "直接送达",
    "left_at_residence": "留置送达",
    "mail": "邮寄送达",
    "entrusted": "委托送达",
    "electronic": "电子送达",
    "public_notice": "公告送达",
}
_DECISIONS = {
    "penalty": "给予行政处罚",
    "no_penalty_minor": "违法行为轻微，不予行政处罚",
    "no_penalty_first_minor": "初次违法且危害后果轻微并及时改正，不予行政处罚",
    "facts_not_established": "违法事实不能成立，不予行政处罚",
    "transfer": "移送有关机关处理",
}
_PARTY_DAYS = 5  # 行政处罚法 Arts. 62-64: statement, defence and hearing request
_PAYMENT_DAYS = 15  # 行政处罚法 Art. 67

CSS = """
.bureau { text-align: center; font-size: 15pt; margin-bottom: 2mm; letter-spacing: 0.05em; }
.qa p { margin: 1mm 0; }
.qa .q { font-weight: bold; }
.seal { margin-top: 14mm; text-align: right; line-height: 2; }
.seal .stamp { display: inline-block; border: 0.6pt dashed #888; color: #888; padding: 4mm 8mm;
               margin-bottom: 2mm; }
.signs td { height: 12mm; }
.money { font-family: "Noto Sans CJK SC", sans-serif; }
"""


# -- numbers ---------------------------------------------------------------------------------------
_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL = ("", "拾", "佰", "仟")
_BIG = ("", "万", "亿", "万亿")


def _group(value: int) -> str:
    """0 < value < 10000 in capitals, inner zeros as one 零, trailing zeros dropped."""
    out, zero = "", False
    for pos in range(3, -1, -1):
        digit = value // 10**pos % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += _DIGITS[digit] + _SMALL[pos]
    return out


def _integer(value: int) -> str:
    groups: list[int] = []
    while value:
        groups.append(value % 10_000)
        value //= 10_000
    out, gap = "", False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            gap = bool(out)
            continue
        if out and (gap or group < 1000):
            out += "零"
        out += _group(group) + _BIG[index]
        gap = False
    return out


def yuan_capitals(amount: Decimal) -> str:
    """An amount of yuan in Chinese capital numerals: ``Decimal("150000")`` →
    ``壹拾伍万元整``, ``Decimal("100500.05")`` → ``壹拾万零伍佰元零伍分``."""
    cents = int((amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) * 100).to_integral())
    if cents < 0:
        raise ValueError("an amount of yuan is not negative")
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10
    if cents == 0:
        return "零元整"
    out = _integer(yuan) + "元" if yuan else ""
    if jiao == 0 and fen == 0:
        return out + "整"
    if jiao:
        out += _DIGITS[jiao] + "角"
    elif yuan:
        out += "零"
    if fen:
        out += _DIGITS[fen] + "分"
    return out


def yuan_figures(amount: Decimal) -> str:
    """``150000`` → ``150,000.00``."""
    return f"{amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


def county_short(name: str) -> str:
    """The county's short name for document numbers: 宁乡县 → 宁乡, 浏阳市 → 浏阳."""
    for suffix in ("自治县", "自治旗", "县", "市", "区", "旗"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def document_number(county_name: str, kind: DocumentKind, year: int, seq: int) -> str:
    """The document's number (文号): ``宁乡自然资罚〔2026〕12号``."""
    return f"{county_short(county_name)}自然资{_NUMBER_MARKS[kind]}〔{year}〕{seq}号"


# -- the data --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DocumentData:
    """What a document states, gathered from the case (see :mod:`evidence.cases.documents`)."""

    kind: DocumentKind
    doc_no: str
    county: str
    case_no: str
    cause: str
    violation_kind: str
    lon: float
    lat: float
    area_m2: float
    now: datetime
    parties: Sequence[Mapping[str, Any]] = ()
    violations: Sequence[Mapping[str, str]] = ()  # law, article_no, title, facts
    measures: Sequence[Mapping[str, Any]] = ()
    fines: Sequence[Mapping[str, Any]] = ()  # law, article_no, amount (Decimal)
    fine_total: Decimal | None = None
    officers: Sequence[str] = ()
    act_date: date | None = None
    step_kind: str | None = None
    step_at: datetime | None = None
    step_details: Mapping[str, Any] = field(default_factory=dict)
    deadlines: Mapping[str, datetime | None] = field(default_factory=dict)
    filed_at: datetime | None = None
    qa: Sequence[tuple[str, str]] = ()
    evidence: Sequence[Mapping[str, Any]] = ()  # caption, proves, captured_at, sha256
    referral: Mapping[str, Any] | None = None  # report, team, reported_at, police_unit
    served: Mapping[str, str] | None = None  # title, doc_no of the document served
    decision: Mapping[str, Any] | None = None  # option, decision_no, at


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _day(moment: datetime | date | None) -> str:
    if moment is None:
        return "____年__月__日"
    day = moment.astimezone(COUNTY_TZ).date() if isinstance(moment, datetime) else moment
    return f"{day.year}年{day.month}月{day.day}日"


def _last_day(moment: datetime | None) -> date | None:
    """The last day in China before a due time at China's midnight."""
    if moment is None:
        return None
    return (moment.astimezone(COUNTY_TZ) - timedelta(seconds=1)).date()


def _party_days_from(d: DocumentData) -> date:
    start = d.step_at or d.now
    return start.astimezone(COUNTY_TZ).date() + timedelta(days=_PARTY_DAYS)


def _row(label: str, value: str, *, raw: bool = False) -> str:
    return f"<tr><th>{_e(label)}</th><td>{value if raw else _e(value)}</td></tr>"


def _parties(d: DocumentData) -> str:
    if not d.parties:
        return "<p>当事人：________________</p>"
    out = []
    for p in d.parties:
        kind = "单位" if p.get("kind") == "organisation" else "个人"
        label = "统一社会信用代码" if p.get("kind") == "organisation" else "身份证号码"
        bits = [f"当事人（{kind}）：{_e(p.get('name', ''))}"]
        if p.get("id_no"):
            bits.append(f"{label}：{_e(p['id_no'])}")
        if p.get("representative"):
            bits.append(f"法定代表人（负责人）：{_e(p['representative'])}")
        if p.get("address"):
            bits.append(f"住址：{_e(p['address'])}")
        if p.get("phone"):
            bits.append(f"联系电话：{_e(p['phone'])}")
        out.append("<p>" + "；".join(bits) + "</p>")
    return "".join(out)


def _party_names(d: DocumentData) -> str:
    return "、".join(str(p.get("name", "")) for p in d.parties) or "________"


def _articles(d: DocumentData) -> str:
    if not d.violations:
        return "________"
    return "、".join(f"《{v['law']}》{v['article_no']}" for v in d.violations)


def _facts(d: DocumentData) -> str:
    texts = [str(v.get("facts", "")) for v in d.violations if v.get("facts")]
    return "；".join(texts) or d.cause


def _place(d: DocumentData) -> str:
    return f"经度 {d.lon:.6f}，纬度 {d.lat:.6f}"


def _area(d: DocumentData) -> str:
    if not d.area_m2:
        return "待测量"
    return f"{d.area_m2:,.2f} 平方米（{d.area_m2 / 666.67:.2f} 亩）"


def _money(amount: Decimal) -> str:
    return (
        f'<span class="money">人民币 {yuan_figures(amount)} 元（大写：'
        f"{_e(yuan_capitals(amount))}）</span>"
    )


def _measures(d: DocumentData) -> str:
    items = []
    for m in d.measures:
        text = _MEASURES.get(str(m.get("kind")), str(m.get("kind")))
        if m.get("deadline_days"):
            text += f"（限 {int(m['deadline_days'])} 日内）"
        if m.get("area_m2"):
            text += f"，面积 {float(m['area_m2']):,.2f} 平方米"
        if m.get("amount_yuan") is not None:
            items.append(f"<li>{_e(text)}：{_money(Decimal(str(m['amount_yuan'])))}</li>")
            continue
        if m.get("note"):
            text += f"（{m['note']}）"
        items.append(f"<li>{_e(text)}</li>")
    for f in d.fines:
        basis = f"依据《{f['law']}》{f['article_no']}"
        items.append(f"<li>罚款 {_money(Decimal(str(f['amount'])))}（{_e(basis)}）</li>")
    if d.fine_total is not None and len(d.fines) > 1:
        items.append(f"<li>罚款合计 {_money(d.fine_total)}</li>")
    return "<ol>" + "".join(items) + "</ol>" if items else "<p>（无）</p>"


def _seal(d: DocumentData, *, signer: str = "") -> str:
    sign = f"<div>{_e(signer)}</div>" if signer else ""
    return (
        f'<div class="seal">{sign}<div class="stamp">（印章）</div>'
        f"<div>{_e(d.county)}自然资源局</div><div>{_day(d.step_at or d.now)}</div></div>"
    )


def _officers(d: DocumentData) -> str:
    return "、".join(d.officers) or "________、________"


def _signatures(*labels: str) -> str:
    rows = "".join(
        f"<tr><th>{_e(label)}</th><td>（签名）</td><td>年　月　日</td></tr>" for label in labels
    )
    return f'<table class="signs">{rows}</table>'


# -- the templates ---------------------------------------------------------------------------------
def _filing_approval(d: DocumentData) -> str:
    rows = "".join(
        [
            _row("案件编号", d.case_no),
            _row("案由", d.cause),
            _row("当事人", _party_names(d)),
            _row("违法地点", _place(d)),
            _row("违法行为发生时间", _day(d.act_date) if d.act_date else "待查"),
            _row("涉及面积", _area(d)),
            _row("涉嫌违反", _articles(d)),
            _row("立案期限", f"应于 {_day(_last_day(d.deadlines.get('filing')))} 前立案"),
            _row("承办人", _officers(d)),
        ]
    )
    return (
        f"<table>{rows}</table><h2>案件来源及基本情况</h2><p>{_e(d.cause)}。</p>"
        f"<h2>承办人意见</h2><p>符合立案条件，建议立案调查。</p>"
        + _signatures("承办人", "审核人（法制机构）", "负责人审批")
    )


def _inspection_record(d: DocumentData) -> str:
    at = d.step_at or d.now
    rows = "".join(
        [
            _row("勘验（检查）时间", at.astimezone(COUNTY_TZ).strftime("%Y年%m月%d日 %H时%M分")),
            _row("勘验（检查）地点", _place(d)),
            _row("勘验（检查）人", _officers(d)),
            _row("当事人", _party_names(d)),
            _row("案件编号", d.case_no),
        ]
    )
    summary = str(d.step_details.get("summary") or d.cause)
    photos = "".join(
        f"<li>{_e(x.get('caption') or '照片')}（{_e(x.get('captured_at', ''))}，"
        f"SHA-256 {_e(str(x.get('sha256', ''))[:16])}…）</li>"
        for x in d.evidence
    )
    return (
        f"<table>{rows}</table><h2>勘验（检查）情况</h2><p>{_e(summary)}</p>"
        f"<p>现场测量占地面积：{_e(_area(d))}。</p>"
        f"<h2>现场照片</h2><ol>{photos or '<li>（无）</li>'}</ol>"
        "<p>以上笔录经当事人核对无误。</p>"
        + _signatures("勘验（检查）人", "当事人或见证人", "记录人")
    )


def _inquiry_record(d: DocumentData) -> str:
    at = d.step_at or d.now
    rows = "".join(
        [
            _row("询问时间", at.astimezone(COUNTY_TZ).strftime("%Y年%m月%d日 %H时%M分")),
            _row("询问人", _officers(d)),
            _row("被询问人", _party_names(d)),
            _row("案件编号", d.case_no),
        ]
    )
    qa = "".join(f'<p class="q">问：{_e(q)}</p><p>答：{_e(a)}</p>' for q, a in d.qa)
    return (
        f"<table>{rows}</table>"
        "<p>我们是执法人员，已出示执法证件。依法向你询问有关情况，你应如实回答，"
        "对与案件无关的问题有权拒绝回答。</p>"
        f'<h2>询问内容</h2><div class="qa">{qa}</div>'
        "<p>以上笔录我已看过，与我说的一致。</p>" + _signatures("被询问人", "询问人", "记录人")
    )


def _stop_order(d: DocumentData) -> str:
    return (
        f"{_parties(d)}<p>经查，你（单位）在{_e(_place(d))}实施的{_e(d.cause)}行为，"
        f"涉嫌违反{_e(_articles(d))}的规定。根据《中华人民共和国土地管理法》第六十八条、"
        "第七十七条的规定，现责令你（单位）<strong>立即停止</strong>上述违法行为，"
        "听候处理。</p><p>如不服本通知，可依法申请行政复议或者提起行政诉讼。</p>"
        f"<p>案件编号：{_e(d.case_no)}</p>" + _seal(d)
    )


def _penalty_notice(d: DocumentData) -> str:
    due = _last_day(d.deadlines.get("statement")) or _party_days_from(d)
    hearing = ""
    if d.step_details.get("hearing_rights"):
        hearing = (
            f"<p>根据《中华人民共和国行政处罚法》第六十三条、第六十四条的规定，你（单位）"
            f"有权要求听证，应于 {_day(due)} 前提出。</p>"
        )
    return (
        f"{_parties(d)}<p>经查，{_e(_facts(d))}。上述行为违反了{_e(_articles(d))}的规定。"
        f"本局拟作出如下行政处罚：</p>{_measures(d)}"
        f"<p>根据《中华人民共和国行政处罚法》第四十四条、第四十五条的规定，你（单位）有权进行"
        f"陈述和申辩，应于 <strong>{_day(due)}</strong> 前（自收到本告知书之日起五日内）"
        f"提出；逾期未提出的，视为放弃上述权利。</p>{hearing}"
        f"<p>案件编号：{_e(d.case_no)}</p>" + _seal(d)
    )


def _hearing_notice(d: DocumentData) -> str:
    due = _last_day(d.deadlines.get("hearing_requested")) or _party_days_from(d)
    held = ""
    if d.step_details.get("hearing_on"):
        held = (
            f"<p>听证定于 {_e(d.step_details['hearing_on'])} 在"
            f"{_e(d.step_details.get('place') or '本局')}举行。</p>"
        )
    return (
        f"{_parties(d)}<p>本局拟对你（单位）{_e(d.cause)}一案作出如下行政处罚：</p>"
        f"{_measures(d)}<p>根据《中华人民共和国行政处罚法》第六十三条、第六十四条的规定，"
        f"你（单位）有要求举行听证的权利。如要求听证，应于 <strong>{_day(due)}</strong> 前"
        f"（自收到本告知书之日起五日内）向本局提出，逾期视为放弃。</p>{held}"
        f"<p>案件编号：{_e(d.case_no)}</p>" + _seal(d)
    )


def _decision(d: DocumentData) -> str:
    decided = (d.decision or {}).get("at") or d.step_at or d.now
    pay_by = "自收到本决定书之日起十五日内"
    return (
        f"{_parties(d)}<p>经查，{_e(_facts(d))}，占地面积{_e(_area(d))}。</p>"
        f"<p>以上事实有现场勘验（检查）笔录、询问笔录、现场照片等证据为证。</p>"
        f"<p>本局认为，当事人的上述行为违反了{_e(_articles(d))}的规定。本局于"
        f"{_day(decided)}依法作出如下行政处罚决定：</p>{_measures(d)}"
        f"<p>罚款应于{pay_by}缴至指定银行，到期不缴纳的，每日按罚款数额的百分之三加处罚款"
        f"（《中华人民共和国行政处罚法》第六十七条、第七十二条）。</p>"
        "<p>如不服本决定，可以在收到本决定书之日起六十日内向上一级自然资源主管部门或者本级"
        "人民政府申请行政复议，也可以在六个月内依法向人民法院提起行政诉讼。逾期不申请行政复议、"
        "不提起行政诉讼又不履行的，本局将依法申请人民法院强制执行。</p>"
        f"<p>案件编号：{_e(d.case_no)}</p>" + _seal(d)
    )


def _service_receipt(d: DocumentData) -> str:
    served = d.served or {}
    method = _SERVICE_METHODS.get(str(d.step_details.get("method")), "________")
    rows = "".join(
        [
            _row("送达文书", f"{served.get('title', '')}（{served.get('doc_no', '')}）"),
            _row("受送达人", _party_names(d)),
            _row("送达地点", ", ".join(str(p.get("address", "")) for p in d.parties) or "—"),
            _row("送达方式", method),
            _row("送达时间", _day(d.step_at or d.now)),
            _row("送达人", _officers(d)),
            _row("案件编号", d.case_no),
        ]
    )
    return (
        f"<table>{rows}</table>"
        + _signatures("受送达人签收", "见证人", "送达人")
        + "<p>备注：受送达人拒绝签收的，送达人应注明情况并邀请见证人签名。</p>"
    )


def _closing_approval(d: DocumentData) -> str:
    option = _DECISIONS.get(str((d.decision or {}).get("option")), "—")
    rows = "".join(
        [
            _row("案件编号", d.case_no),
            _row("案由", d.cause),
            _row("当事人", _party_names(d)),
            _row("立案时间", _day(d.filed_at) if d.filed_at else "—"),
            _row("处理决定", option),
            _row("决定书文号", str((d.decision or {}).get("decision_no") or "—")),
            _row("执行情况", str(d.step_details.get("summary") or "已执行完毕")),
            _row("承办人", _officers(d)),
        ]
    )
    return (
        f"<table>{rows}</table><h2>处罚内容</h2>{_measures(d)}"
        "<h2>承办人意见</h2><p>本案已执行完毕，建议结案。</p>"
        + _signatures("承办人", "审核人", "负责人审批")
    )


def _referral_letter(d: DocumentData) -> str:
    r = d.referral or {}
    police = str(r.get("police_unit") or "") or "________公安局"
    return (
        f"<p>{_e(police)}：</p>"
        f"<p>{_e(_party_names(d))}{_e(d.cause)}一案（案件编号 {_e(d.case_no)}），"
        f"经本局调查，涉嫌构成犯罪。根据《行政执法机关移送涉嫌犯罪案件的规定》"
        f"（国务院令第310号）第三条、第六条的规定，现将该案移送你局，请依法审查。</p>"
        f"<h2>涉嫌犯罪事实</h2><p>{_e(r.get('report') or d.cause)}</p>"
        f"<p>涉及面积：{_e(_area(d))}；违法地点：{_e(_place(d))}。</p>"
        f"<h2>附件</h2><ol><li>涉嫌犯罪案件情况的调查报告</li><li>涉案物品清单</li>"
        f"<li>有关检验报告或者鉴定结论</li><li>其他有关涉嫌犯罪的材料（证据包，"
        f"证据 {len(d.evidence)} 项）</li></ol>"
        f"<p>调查组成员：{_e('、'.join(r.get('team') or ()) or _officers(d))}；"
        f"报告时间：{_day(r.get('reported_at'))}。</p>"
        + _seal(d, signer="（负责人签字）")
        + "<p>抄送：同级人民检察院</p>"
    )


_TEMPLATES: dict[DocumentKind, Callable[[DocumentData], str]] = {
    DocumentKind.FILING_APPROVAL: _filing_approval,
    DocumentKind.INSPECTION_RECORD: _inspection_record,
    DocumentKind.INQUIRY_RECORD: _inquiry_record,
    DocumentKind.STOP_ORDER: _stop_order,
    DocumentKind.PENALTY_NOTICE: _penalty_notice,
    DocumentKind.HEARING_NOTICE: _hearing_notice,
    DocumentKind.DECISION: _decision,
    DocumentKind.SERVICE_RECEIPT: _service_receipt,
    DocumentKind.CLOSING_APPROVAL: _closing_approval,
    DocumentKind.REFERRAL_LETTER: _referral_letter,
}


def render_document(d: DocumentData) -> str:
    """The whole HTML page of ``d``'s document."""
    title = TITLES[d.kind]
    body = _TEMPLATES[d.kind](d)
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{_e(title)} {_e(d.doc_no)}</title></head><body>"
        f'<div class="bureau">{_e(d.county)}自然资源局</div><h1>{_e(title)}</h1>'
        f'<div class="docno">{_e(d.doc_no)}</div>{body}</body></html>'
    )
