"""The message catalogue covers every code the code base can raise, in both languages, and
every template can be filled by what its raise sites pass."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

from api.openapi_errors import OPERATION_ERRORS, SHARED_ERRORS
from api.problems import _HTTP_CODES
from infra import error_codes
from infra.messages import LABELS, MESSAGES, TITLES, negotiate, placeholders, render
from infra.scope import Role
from patrol.alerts import ALERT_KINDS
from patrol.duty import CHECK_STATUSES, DUTY_ROLES

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("api", "evidence", "geofence", "infra", "patrol", "sync")
CODE = re.compile(r"^[a-z][a-z0-9_]*$")


@functools.cache
def _sources() -> dict[Path, ast.Module]:
    """Each module of the packages, parsed once for the whole file."""
    return {
        path: ast.parse(path.read_text(encoding="utf-8"))
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
    }


def _const(node: ast.AST | None) -> str | None:
    """The code a node names: a catalogue name (``codes.INVALID_TIME``) or a literal."""
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "codes"
    ):
        value = getattr(error_codes, node.attr, None)
        return value if isinstance(value, str) else f"<unknown name codes.{node.attr}>"
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and CODE.match(node.value):
        return node.value
    return None


def _name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def _error_classes(trees: dict[Path, ast.Module]) -> dict[str, str]:
    """Each error class by name with its ``default_code``."""
    classes: dict[str, str] = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            for stmt in node.body:
                if isinstance(stmt, ast.Assign):
                    targets, value = stmt.targets, stmt.value
                elif isinstance(stmt, ast.AnnAssign):
                    targets, value = [stmt.target], stmt.value
                else:
                    continue
                if any(getattr(t, "id", None) == "default_code" for t in targets) and (
                    code := _const(value)
                ):
                    classes[node.name] = code
    return classes


def _code_of(node: ast.Call, classes: dict[str, str]) -> str | None:
    keywords = {k.arg: k.value for k in node.keywords}
    name = _name(node)
    code = _const(keywords.get("code"))
    if code is None and name == "_bad" and len(node.args) > 1:
        code = _const(node.args[1])  # evidence's helpers: _bad(detail, code, ...)
    if code is None and name == "_refuse" and node.args:
        code = _const(node.args[0])  # api.decoding: _refuse(code, detail, path)
    if code is None and name in classes and "code" not in keywords:
        code = classes[name]
    return code


def _raise_sites() -> dict[str, list[tuple[str, set[str] | None]]]:
    """Each code with its raise sites: where, and the keyword names passed (``None`` when
    the call spreads ``**extra``, so its keywords cannot be known here)."""
    trees = _sources()
    classes = _error_classes(trees)
    sites: dict[str, list[tuple[str, set[str] | None]]] = {c: [] for c in classes.values()}
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or (code := _code_of(node, classes)) is None:
                continue
            given = [k.arg for k in node.keywords]
            names = None if None in given else {k for k in given if k and k != "code"}
            sites.setdefault(code, []).append((f"{path.relative_to(ROOT)}:{node.lineno}", names))
    return sites


def _declared_codes() -> set[str]:
    out = set(_HTTP_CODES.values())
    for errors in [*OPERATION_ERRORS.values(), *SHARED_ERRORS.values()]:
        for codes in errors.values():
            out.update(codes)
    return out


def _track_point_codes() -> set[str]:
    """The per-point rejection codes of a track batch (``return "code", "detail"``)."""
    tree = ast.parse((ROOT / "patrol" / "tracks.py").read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        value = node.value if isinstance(node, ast.Return | ast.Assign) else None
        if isinstance(value, ast.Tuple) and len(value.elts) == 2:
            code, detail = value.elts
            if _const(code) and isinstance(detail, ast.Constant) and " " in str(detail.value):
                out.add(str(code.value))  # type: ignore[attr-defined]
    return out


def test_the_scan_finds_the_codes_it_should() -> None:
    sites = _raise_sites()
    # one of each way a code is raised: a class, code=codes.X, the two helpers, a receipt
    for code in ("case_not_found", "duplicate_county", "invalid_amount", "nesting_too_deep"):
        assert code in sites, code
    assert {"op_id_reused", "version_conflict"} <= set(sites)
    assert {"future_time", "patrol_ended"} <= _track_point_codes()
    assert len(sites) > 140


def test_every_code_has_chinese_and_english_text() -> None:
    codes = set(_raise_sites()) | _declared_codes() | _track_point_codes()
    codes |= {f"alert.{kind}" for kind in ALERT_KINDS}
    missing = sorted(codes - set(MESSAGES))
    assert missing == [], f"codes without a catalogue entry: {missing}"
    for code, entry in MESSAGES.items():
        assert re.search(r"[\u4e00-\u9fff]", entry.zh), f"{code}: Chinese text is not Chinese"
        assert entry.en and not re.search(r"[\u4e00-\u9fff]", entry.en), code
        assert placeholders(entry.zh) == placeholders(entry.en), code


def test_every_template_can_be_filled_where_its_code_is_raised() -> None:
    unfilled = []
    for code, sites in _raise_sites().items():
        entry = MESSAGES[code]
        needed = placeholders(entry.zh)
        for where, names in sites:
            if names is not None and not needed <= names:
                unfilled.append((code, where, sorted(needed - names)))
    assert unfilled == []


def test_a_template_with_fields_has_a_plain_form_for_callers_without_them() -> None:
    for code, entry in MESSAGES.items():
        if placeholders(entry.zh):
            assert entry.zh_plain and not placeholders(entry.zh_plain), code
            assert entry.en_plain and not placeholders(entry.en_plain), code
            assert render(code, "zh", {}) == entry.zh_plain
            assert render(code, "en", {}) == entry.en_plain


def test_titles_and_labels_are_complete() -> None:
    statuses = {
        s for errors in [*OPERATION_ERRORS.values(), *SHARED_ERRORS.values()] for s in errors
    }
    assert statuses | {405, 406, 500} <= set(TITLES)
    assert set(LABELS["duty_role"]) == set(DUTY_ROLES)
    assert set(LABELS["check_status"]) == set(CHECK_STATUSES)
    assert set(LABELS["role"]) == {r.value for r in Role}


def test_render_fills_translates_labels_and_keeps_text_already_in_the_language() -> None:
    params = {"site": "吴家冲采石场", "role": "safety_officer", "name": "杨小龙", "cycle_days": 7}
    assert render("alert.duty_overdue", "zh", params) == (
        "吴家冲采石场：乡镇安监站工作人员杨小龙逾期未巡查（每 7 天一次）"
    )
    assert render("alert.duty_overdue", "en", params) == (
        "吴家冲采石场: safety officer 杨小龙 is overdue (every 7 days)"
    )
    raised = "ended_at is before started_at"
    assert render("invalid_time", "en", {}, fallback=raised) == raised
    assert render("invalid_time", "zh", {}, fallback=raised) == "时间无效"
    assert render("duplicate_county", "zh", {}, fallback="行政区划代码 430000 已有县") == (
        "行政区划代码 430000 已有县"
    )
    assert render("no_such_code", "zh", {}, fallback="as raised") == "as raised"


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        (None, "zh"),
        ("", "zh"),
        ("en", "en"),
        ("en-US", "en"),
        ("EN-gb,en;q=0.8", "en"),
        ("en;q=0.9,zh;q=0.5", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en;q=0.5,zh-CN;q=0.9", "zh"),
        ("fr-FR,de;q=0.9", "zh"),
        ("fr,en;q=0.3", "en"),
        ("*", "zh"),
        ("en;q=0", "zh"),
        ("en;q=bogus", "zh"),
    ],
)
def test_negotiate_by_q_value(header: str | None, lang: str) -> None:
    assert negotiate(header) == lang
