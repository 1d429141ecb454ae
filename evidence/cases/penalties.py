"""The penalty content of a case: parties, violations with their legal basis, measures and
fines, and the rules that compute a fine's allowed range.

``PutCasePenalty`` writes the whole content at once (a draft the team refines until the
decision; after the decision step it is frozen: ``penalty_decided``). The decision itself —
penalty, no penalty, facts not established, transfer — is the decision *step* of
:mod:`evidence.cases.procedure`; a penalty decision needs this content first.

* **Parties** (当事人): a person with an ID number (GB 11643, 18 characters, the last a check
  digit) or an organisation with a unified social credit code (GB 32100, 18 characters,
  the last a check character), address and representative. A wrong check digit is refused
  (``invalid_id_number``). Joint-team members read the number masked (all but the last
  four characters): the number is the brigade's, not the joint team's, to know.
* **Violations** cite articles of :data:`ARTICLES` (a small table of the laws' references).
* **Fines**: each line names an article with a fine rule; the allowed range comes from the
  case's figures (occupied area for 实施条例 Art. 57, ore value for 矿产资源法 Art. 64, illegal
  gain for 实施条例 Art. 54) or, for a reclamation-fee multiple (Art. 55), from the fee the
  line states. The officer's amount must lie in the range (``fine_out_of_range`` naming it);
  a figure the rule needs and the case lacks is ``fine_basis_missing``. Each line keeps who
  chose its amount and when (a line whose amount did not change keeps its first chooser).
* **Hearing and major**: a penalty gives the party a right to a hearing (听证) when its fines
  reach the "large fine" of the settings (a person's or an organisation's), or it orders
  demolition within a deadline, confiscates buildings or large gains, suspends production or
  revokes a licence. A case is major (重大: legal review and collective discussion before its
  decision) when its penalty triggers a hearing or its fines reach the settings' figure; the
  flag is kept on the case (``cases.major``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.access import MASKED_ID_ROLES
from evidence.cases.cases import ensure_unfinished, ensure_writer, load_case
from evidence.cases.errors import InvalidCaseError
from evidence.cases.models import Case
from evidence.cases.procedure_models import CasePenalty, CaseStep, MeasureKind, StepKind
from infra import error_codes as codes
from infra.errors import ConflictError
from infra.scope import Principal, Role, require_role
from infra.settings import ProcedureSettings

__all__ = [
    "ARTICLES",
    "Article",
    "FineInput",
    "FineRange",
    "FineView",
    "MeasureInput",
    "PartyInput",
    "PenaltyInput",
    "PenaltyView",
    "ViolationInput",
    "fine_range",
    "is_valid_credit_code",
    "is_valid_id_number",
    "mask_id",
    "penalty_view",
    "put_penalty",
]

_WRITERS = (Role.INSPECTOR, Role.CAPTAIN, Role.ADMIN)
_CENT = Decimal("0.01")
_MAX_YUAN = Decimal("1e13")


# -- the table of legal references ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Article:
    """One article the decisions cite; ``fine`` names its fine rule (``None``: none)."""

    code: str
    law: str
    article: str
    title: str
    measures: tuple[MeasureKind, ...] = ()
    fine: str | None = None  # "per_m2" | "reclamation_fee" | "illegal_gain" | "ore_value"
    low: Decimal = Decimal(0)
    high: Decimal = Decimal(0)


ARTICLES: dict[str, Article] = {
    a.code: a
    for a in (
        Article(
            "lal_74",
            "中华人民共和国土地管理法",
            "第七十四条",
            "买卖或者以其他形式非法转让土地",
            (
                MeasureKind.CONFISCATE_GAINS,
                MeasureKind.DEMOLISH,
                MeasureKind.CONFISCATE_BUILDINGS,
                MeasureKind.RESTORE_FARMLAND,
            ),
        ),
        Article(
            "lal_75",
            "中华人民共和国土地管理法",
            "第七十五条",
            "占用耕地建窑、建坟或者擅自在耕地上建房、挖砂、采石、采矿、取土等，破坏种植条件",
            (MeasureKind.RESTORE_FARMLAND,),
        ),
        Article(
            "lal_77",
            "中华人民共和国土地管理法",
            "第七十七条",
            "未经批准或者采取欺骗手段骗取批准，非法占用土地",
            (
                MeasureKind.RETURN_LAND,
                MeasureKind.DEMOLISH,
                MeasureKind.CONFISCATE_BUILDINGS,
                MeasureKind.RESTORE_FARMLAND,
            ),
        ),
        Article(
            "lal_83",
            "中华人民共和国土地管理法",
            "第八十三条",
            "责令限期拆除：当事人可在接到决定之日起十五日内起诉，期满不起诉又不自行拆除的，"
            "申请人民法院强制执行",
            (MeasureKind.DEMOLISH,),
        ),
        Article(
            "lalr_54",
            "中华人民共和国土地管理法实施条例",
            "第五十四条",
            "非法转让土地的罚款：违法所得的百分之十以上百分之五十以下",
            fine="illegal_gain",
            low=Decimal("0.1"),
            high=Decimal("0.5"),
        ),
        Article(
            "lalr_55",
            "中华人民共和国土地管理法实施条例",
            "第五十五条",
            "破坏耕地的罚款：耕地开垦费的五倍以上十倍以下",
            fine="reclamation_fee",
            low=Decimal(5),
            high=Decimal(10),
        ),
        Article(
            "lalr_57",
            "中华人民共和国土地管理法实施条例",
            "第五十七条",
            "非法占用土地的罚款：每平方米一百元以上一千元以下",
            fine="per_m2",
            low=Decimal(100),
            high=Decimal(1000),
        ),
        Article(
            "mrl_64",
            "中华人民共和国矿产资源法（2024年修订）",
            "第六十四条",
            "未取得采矿权擅自采矿：没收矿产品和违法所得，并处违法所得（矿产品市场价值）"
            "三倍以上五倍以下罚款；没有违法所得或者违法所得不足十万元的，"
            "并处十万元以上一百万元以下罚款",
            (MeasureKind.CONFISCATE_ORE, MeasureKind.CONFISCATE_GAINS),
            fine="ore_value",
            low=Decimal(3),
            high=Decimal(5),
        ),
    )
}

_MINING_FLOOR = Decimal(100_000)  # below this ore value (or none): the fixed range below
_MINING_FIXED = (Decimal(100_000), Decimal(1_000_000))
# measures that give the party a right to a hearing whatever their amount
_HEARING_MEASURES = frozenset(
    {
        MeasureKind.DEMOLISH,
        MeasureKind.CONFISCATE_BUILDINGS,
        MeasureKind.SUSPEND_PRODUCTION,
        MeasureKind.REVOKE_LICENCE,
    }
)


# -- check digits --------------------------------------------------------------------------------
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def is_valid_id_number(value: str) -> bool:
    """An 18-character resident ID number whose last character is its check digit (GB 11643,
    ISO 7064 MOD 11-2) and whose birth date is a real date."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return value[17].upper() == _ID_CHECK[total % 11]


def is_valid_credit_code(value: str) -> bool:
    """An 18-character unified social credit code whose last character is its check
    character (GB 32100-2015: MOD 31 over the 31 characters it uses)."""
    code = value.upper()
    if len(code) != 18 or any(ch not in _USCC_CHARS for ch in code):
        return False
    total = sum(_USCC_CHARS.index(ch) * w for ch, w in zip(code[:17], _USCC_WEIGHTS, strict=True))
    return code[17] == _USCC_CHARS[(31 - total % 31) % 31]


def mask_id(value: str) -> str:
    """All but the last four characters hidden."""
    if len(value) <= 4:
        return "*" * len(value)
    return "*" * (len(value) - 4) + value[-4:]


# -- inputs --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PartyInput:
    name: str
    kind: str = "person"  # person | organisation
    id_no: str = ""  # ID number (person) or unified social credit code (organisation)
    address: str = ""
    representative: str = ""  # 法定代表人 or 委托代理人
    phone: str = ""


@dataclass(frozen=True, slots=True)
class ViolationInput:
    article: str  # a code of ARTICLES
    facts: str = ""


@dataclass(frozen=True, slots=True)
class MeasureInput:
    kind: str  # a MeasureKind value
    deadline_days: int | None = None  # 限期 (demolish, return, restore)
    area_m2: float | None = None
    amount_yuan: Decimal | None = None  # confiscated gains
    note: str = ""


@dataclass(frozen=True, slots=True)
class FineInput:
    article: str  # a code of ARTICLES with a fine rule
    amount_yuan: Decimal
    basis_yuan: Decimal | None = None  # the reclamation fee of a 实施条例 Art. 55 fine


@dataclass(frozen=True, slots=True)
class PenaltyInput:
    parties: Sequence[PartyInput] = ()
    violations: Sequence[ViolationInput] = ()
    measures: Sequence[MeasureInput] = ()
    fines: Sequence[FineInput] = ()


# -- views ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FineRange:
    basis: str  # what the range is computed from
    basis_value: Decimal
    min_yuan: Decimal
    max_yuan: Decimal


@dataclass(frozen=True, slots=True)
class PartyView:
    name: str
    kind: str
    id_no: str
    address: str
    representative: str
    phone: str
    id_masked: bool


@dataclass(frozen=True, slots=True)
class ViolationView:
    article: str
    law: str
    article_no: str
    title: str
    facts: str


@dataclass(frozen=True, slots=True)
class MeasureView:
    kind: str
    deadline_days: int | None
    area_m2: float | None
    amount_yuan: Decimal | None
    note: str


@dataclass(frozen=True, slots=True)
class FineView:
    article: str
    basis: str
    basis_value: Decimal
    min_yuan: Decimal
    max_yuan: Decimal
    amount_yuan: Decimal
    chosen_by: uuid.UUID
    chosen_at: datetime


@dataclass(frozen=True, slots=True)
class PenaltyView:
    case_id: uuid.UUID
    parties: tuple[PartyView, ...]
    violations: tuple[ViolationView, ...]
    measures: tuple[MeasureView, ...]
    fines: tuple[FineView, ...]
    fine_total_yuan: Decimal
    hearing_triggered: bool
    major: bool
    updated_by: uuid.UUID
    updated_at: datetime


# -- rules ---------------------------------------------------------------------------------------
def _bad(detail: str, code: str, **extra: Any) -> InvalidCaseError:
    return InvalidCaseError(detail, code=code, **extra)


def _yuan(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def _scaled(basis: str, value: Decimal, article: Article) -> FineRange:
    return FineRange(basis, value, _yuan(value * article.low), _yuan(value * article.high))


def fine_range(article: Article, case: Case, *, basis_yuan: Decimal | None = None) -> FineRange:
    """The fine the article allows for this case (``fine_basis_missing`` without the figure
    it is computed from)."""
    if article.fine == "per_m2":
        area = Decimal(str(case.area_total_m2 or 0)).quantize(_CENT)
        if area <= 0:
            msg = "the occupied area is not known: survey the site first"
            raise _bad(msg, codes.FINE_BASIS_MISSING, basis="area_total_m2")
        return _scaled("area_m2", area, article)
    if article.fine == "ore_value":
        value = case.ore_value_yuan
        if value is None or value < _MINING_FLOOR:
            low, high = _MINING_FIXED
            return FineRange("ore_value_yuan", value or Decimal(0), _yuan(low), _yuan(high))
        return _scaled("ore_value_yuan", value, article)
    if article.fine == "illegal_gain":
        gain = case.illegal_gain_yuan
        if gain is None or gain <= 0:
            msg = "the illegal gain is not known: enter it on the case"
            raise _bad(msg, codes.FINE_BASIS_MISSING, basis="illegal_gain_yuan")
        return _scaled("illegal_gain_yuan", gain, article)
    if article.fine == "reclamation_fee":
        if basis_yuan is None or basis_yuan <= 0:
            msg = "a reclamation-fee fine states the fee (basisYuan)"
            raise _bad(msg, codes.FINE_BASIS_MISSING, basis="reclamation_fee_yuan")
        return _scaled("reclamation_fee_yuan", _yuan(basis_yuan), article)
    msg = f"{article.code} sets no fine"
    raise _bad(msg, codes.INVALID_PENALTY, field="fines", article=article.code)


def _article(code: str, field: str) -> Article:
    article = ARTICLES.get(code)
    if article is None:
        msg = f"{field}: unknown article {code!r}; one of {', '.join(sorted(ARTICLES))}"
        raise _bad(msg, codes.INVALID_PENALTY, field=field)
    return article


def _text(value: str, field: str, limit: int, *, required: bool = False) -> str:
    cleaned = value.strip()
    if required and not cleaned:
        raise _bad(f"{field} must not be empty", codes.INVALID_PARTY, field=field)
    if len(cleaned) > limit:
        raise _bad(f"{field} is longer than {limit}", codes.INVALID_PENALTY, field=field)
    return cleaned


def _party(i: int, p: PartyInput) -> dict[str, str]:
    field = f"parties[{i}]"
    if p.kind not in ("person", "organisation"):
        msg = "party kind must be person or organisation"
        raise _bad(msg, codes.INVALID_PARTY, field=f"{field}.kind")
    id_no = p.id_no.strip().upper()
    valid = is_valid_id_number if p.kind == "person" else is_valid_credit_code
    if id_no and not valid(id_no):
        raise _bad(
            f"{field}.idNo fails its check digit",
            codes.INVALID_ID_NUMBER,
            field=f"{field}.idNo",
            party_kind=p.kind,
        )
    return {
        "name": _text(p.name, f"{field}.name", 200, required=True),
        "kind": p.kind,
        "id_no": id_no,
        "address": _text(p.address, f"{field}.address", 200),
        "representative": _text(p.representative, f"{field}.representative", 100),
        "phone": _text(p.phone, f"{field}.phone", 32),
    }


def _measure(i: int, m: MeasureInput) -> dict[str, Any]:
    field = f"measures[{i}]"
    try:
        kind = MeasureKind(m.kind)
    except ValueError as exc:
        msg = f"{field}.kind must be one of {', '.join(k.value for k in MeasureKind)}"
        raise _bad(msg, codes.INVALID_PENALTY, field=f"{field}.kind") from exc
    if m.deadline_days is not None and not 1 <= m.deadline_days <= 3650:
        msg = "a deadline is 1 to 3650 days"
        raise _bad(msg, codes.INVALID_PENALTY, field=f"{field}.deadlineDays")
    amount = None if m.amount_yuan is None else _money(m.amount_yuan, f"{field}.amountYuan")
    return {
        "kind": kind.value,
        "deadline_days": m.deadline_days,
        "area_m2": m.area_m2,
        "amount_yuan": None if amount is None else str(amount),
        "note": _text(m.note, f"{field}.note", 500),
    }


def _money(value: Decimal, field: str) -> Decimal:
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise _bad(f"{field} is not a number", codes.INVALID_AMOUNT, field=field) from exc
    if not amount.is_finite() or amount < 0 or amount >= _MAX_YUAN:
        raise _bad(f"{field} must be an amount of yuan", codes.INVALID_AMOUNT, field=field)
    return _yuan(amount)


def hearing_threshold(parties: Sequence[dict[str, Any]], settings: ProcedureSettings) -> Decimal:
    """The "large fine" for these parties: an organisation's when any party is one."""
    if any(p.get("kind") == "organisation" for p in parties):
        return settings.hearing_fine_organisation_yuan
    return settings.hearing_fine_person_yuan


def _triggers_hearing(
    parties: Sequence[dict[str, Any]],
    measures: Sequence[dict[str, Any]],
    total: Decimal,
    settings: ProcedureSettings,
) -> bool:
    large = hearing_threshold(parties, settings)
    if total >= large:
        return True
    for m in measures:
        kind = MeasureKind(m["kind"])
        if kind in _HEARING_MEASURES:
            return True
        if kind is MeasureKind.CONFISCATE_GAINS and Decimal(m.get("amount_yuan") or 0) >= large:
            return True
    return False


# -- the service ---------------------------------------------------------------------------------
async def _decided(session: AsyncSession, case_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(
            exists().where(CaseStep.case_id == case_id, CaseStep.kind == StepKind.DECISION.value)
        )
    )
    return bool(found)


async def put_penalty(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    data: PenaltyInput,
    *,
    settings: ProcedureSettings,
    now: datetime,
) -> PenaltyView:
    """Write the case's penalty content (the case's writers; frozen once decided)."""
    require_role(principal, *_WRITERS, action="write penalties")
    case = await load_case(session, principal, case_id, for_update=True)
    await ensure_writer(session, principal, case)
    ensure_unfinished(case)
    if await _decided(session, case.id):
        raise ConflictError(
            "the decision is made; the penalty is frozen", code=codes.PENALTY_DECIDED
        )
    parties = [_party(i, p) for i, p in enumerate(data.parties)]
    violations = []
    for i, v in enumerate(data.violations):
        article = _article(v.article, f"violations[{i}].article")
        violations.append({"article": article.code, "facts": _text(v.facts, "facts", 4000)})
    measures = [_measure(i, m) for i, m in enumerate(data.measures)]
    row = await session.get(CasePenalty, case.id)
    before = {(f["article"], f["amount_yuan"]): f for f in (row.fines if row else [])}
    fines: list[dict[str, Any]] = []
    total = Decimal(0)
    for i, f in enumerate(data.fines):
        field = f"fines[{i}]"
        article = _article(f.article, f"{field}.article")
        allowed = fine_range(article, case, basis_yuan=f.basis_yuan)
        amount = _money(f.amount_yuan, f"{field}.amountYuan")
        if not allowed.min_yuan <= amount <= allowed.max_yuan:
            raise _bad(
                f"{field}.amountYuan must be between {allowed.min_yuan} and {allowed.max_yuan}",
                codes.FINE_OUT_OF_RANGE,
                field=f"{field}.amountYuan",
                min=str(allowed.min_yuan),
                max=str(allowed.max_yuan),
            )
        earlier = before.get((article.code, str(amount)))
        fines.append(
            {
                "article": article.code,
                "basis": allowed.basis,
                "basis_value": str(allowed.basis_value),
                "min_yuan": str(allowed.min_yuan),
                "max_yuan": str(allowed.max_yuan),
                "amount_yuan": str(amount),
                "chosen_by": earlier["chosen_by"] if earlier else str(principal.user_id),
                "chosen_at": earlier["chosen_at"] if earlier else now.isoformat(),
            }
        )
        total += amount
    hearing = _triggers_hearing(parties, measures, total, settings)
    major = hearing or total >= settings.major_fine_yuan
    if row is None:
        row = CasePenalty(county_id=case.county_id, case_id=case.id, created_at=now)
        session.add(row)
    row.parties, row.violations, row.measures, row.fines = parties, violations, measures, fines
    row.fine_total_yuan = total
    row.hearing_triggered = hearing
    row.major = major
    row.updated_by = principal.user_id
    row.updated_at = now
    case.major = major
    await session.flush()
    return penalty_view(row, principal)


def penalty_view(row: CasePenalty, principal: Principal) -> PenaltyView:
    """The content as ``principal`` may read it: joint-team members and the procuratorate
    get ID numbers masked."""
    masked = principal.has_role(*MASKED_ID_ROLES)
    return PenaltyView(
        case_id=row.case_id,
        parties=tuple(
            PartyView(
                name=p["name"],
                kind=p["kind"],
                id_no=mask_id(p["id_no"]) if masked and p["id_no"] else p["id_no"],
                address=p.get("address", ""),
                representative=p.get("representative", ""),
                phone=p.get("phone", ""),
                id_masked=masked and bool(p["id_no"]),
            )
            for p in row.parties
        ),
        violations=tuple(
            ViolationView(
                article=v["article"],
                law=ARTICLES[v["article"]].law,
                article_no=ARTICLES[v["article"]].article,
                title=ARTICLES[v["article"]].title,
                facts=v.get("facts", ""),
            )
            for v in row.violations
        ),
        measures=tuple(
            MeasureView(
                kind=m["kind"],
                deadline_days=m.get("deadline_days"),
                area_m2=m.get("area_m2"),
                amount_yuan=None if m.get("amount_yuan") is None else Decimal(m["amount_yuan"]),
                note=m.get("note", ""),
            )
            for m in row.measures
        ),
        fines=tuple(
            FineView(
                article=f["article"],
                basis=f["basis"],
                basis_value=Decimal(f["basis_value"]),
                min_yuan=Decimal(f["min_yuan"]),
                max_yuan=Decimal(f["max_yuan"]),
                amount_yuan=Decimal(f["amount_yuan"]),
                chosen_by=uuid.UUID(f["chosen_by"]),
                chosen_at=datetime.fromisoformat(f["chosen_at"]),
            )
            for f in row.fines
        ),
        fine_total_yuan=row.fine_total_yuan,
        hearing_triggered=row.hearing_triggered,
        major=row.major,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )
