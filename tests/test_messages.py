"""The error catalogue (:mod:`infra.error_codes`) defines every code the code base can raise,
once, raised by name; each raise site answers the status the catalogue lists; every code
has Chinese and English text whose template its raise sites can fill; and README.md's table
is the one the catalogue generates."""

from __future__ import annotations

import ast
import functools
import importlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.cli import CONTRACT_FILE
from api.openapi_errors import OPERATION_ERRORS, SHARED_ERRORS, error_catalogue
from api.problems import _DOMAIN_STATUS, _HTTP_CODES
from geofence.importer import ISSUE_CODES
from infra import error_codes
from infra.error_codes import CATALOGUE, TABLE_END, TABLE_START, markdown_table
from infra.errors import DomainError
from infra.messages import ALERTS, LABELS, MESSAGES, TITLES, negotiate, placeholders, render
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


def _coded_calls() -> Iterator[tuple[Path, ast.Module, ast.Call, str]]:
    """Every call that names a code: a raise site, a helper, a receipt."""
    trees = _sources()
    classes = _error_classes(trees)
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and (code := _code_of(node, classes)) is not None:
                yield path, tree, node, code


def _raise_sites() -> dict[str, list[tuple[str, set[str] | None]]]:
    """Each code with its raise sites: where, and the keyword names passed (``None`` when
    the call spreads ``**extra``, so its keywords cannot be known here)."""
    classes = _error_classes(_sources())
    sites: dict[str, list[tuple[str, set[str] | None]]] = {c: [] for c in classes.values()}
    for path, _, node, code in _coded_calls():
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


def _item_codes() -> set[str]:
    """The per-item codes written as values: a job's error (``{"code": ...}``), an undecodable
    sync operation (``Undecodable(op_id, code, detail)``), a layer import's feature issues."""
    out = set(ISSUE_CODES)
    for tree in _sources().values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "code" and _const(value):
                        out.add(str(_const(value)))
            if isinstance(node, ast.Call) and _name(node) == "Undecodable" and len(node.args) > 1:
                out.update(c for c in [_const(node.args[1])] if c)
    return out


def test_every_code_used_anywhere_is_in_the_catalogue() -> None:
    """Every ``code=``, ``default_code``, helper and receipt in the source, every code the
    OpenAPI document lists, every per-point and per-item code: an entry of
    :data:`CATALOGUE`."""
    items = _item_codes()
    assert {"import_abandoned", "unknown_op_type", "invalid_op", "dropped_z"} <= items
    codes = set(_raise_sites()) | _declared_codes() | _track_point_codes() | items
    missing = sorted(codes - set(CATALOGUE))
    assert missing == [], f"codes without a catalogue entry (infra/error_codes.py): {missing}"
    assert set(ALERTS) == {f"alert.{kind}" for kind in ALERT_KINDS}


def test_codes_are_raised_by_name_from_the_catalogue() -> None:
    """No code is spelled as a string where it is raised: ``code=codes.INVALID_TIME``,
    ``default_code = codes.CASE_NOT_FOUND``, ``_bad(msg, codes.INVALID_AMOUNT)``."""
    spelled = []
    for path, tree in _sources().items():
        for node in ast.walk(tree):
            literal: ast.AST | None = None
            if isinstance(node, ast.Call):
                keywords = {k.arg: k.value for k in node.keywords}
                literal = keywords.get("code")
                name = _name(node)
                if name == "_bad" and len(node.args) > 1:
                    literal = node.args[1]
                if name == "_refuse" and node.args:
                    literal = node.args[0]
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(getattr(t, "id", None) == "default_code" for t in targets):
                    literal = node.value
            if isinstance(literal, ast.Constant) and CODE.match(str(literal.value)):
                spelled.append(f"{path.relative_to(ROOT)}:{node.lineno}: {literal.value}")
    assert spelled == []


def test_every_catalogue_name_is_its_code() -> None:
    names = {
        name: value
        for name, value in vars(error_codes).items()
        if name.isupper() and isinstance(value, str) and name not in {"TABLE_START", "TABLE_END"}
    }
    assert {name: name.lower() for name in names} == names
    assert set(names.values()) == set(CATALOGUE)
    for code, entry in CATALOGUE.items():
        assert entry.code == code
        assert not placeholders(entry.zh_title), code
        assert not placeholders(entry.en_title), code
        if not placeholders(entry.zh):
            assert (entry.zh_title, entry.en_title) == (entry.zh, entry.en), code
    assert set(MESSAGES) == set(CATALOGUE) | set(ALERTS)


def _status_of(cls: type[DomainError]) -> int | None:
    return next((status for base, status in _DOMAIN_STATUS if issubclass(cls, base)), None)


def _domain_classes(paths: set[Path]) -> dict[str, set[int | None]]:
    """The status each domain error class is answered with, by class name."""
    for path in paths:
        importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
    out: dict[str, set[int | None]] = {}
    stack: list[type[DomainError]] = [DomainError]
    while stack:
        cls = stack.pop()
        out.setdefault(cls.__name__, set()).add(_status_of(cls))
        stack.extend(cls.__subclasses__())
    return out


def _returns(tree: ast.Module, function: str) -> str | None:
    """The class a helper of the module returns (``def _bad(...) -> InvalidCaseError``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == function:
            returns = node.returns
            return returns.id if isinstance(returns, ast.Name) else None
    return None


def test_every_raise_site_answers_the_status_the_catalogue_lists() -> None:
    """The status comes from the class raised (``api.problems``); for each code the classes
    it is raised with, and the HTTP layer's and the OpenAPI document's statuses, are the
    catalogue's."""
    calls = list(_coded_calls())
    defining = {path for path, tree in _sources().items() if _error_classes({path: tree})}
    classes = _domain_classes({path for path, *_ in calls} | defining)
    wrong = []
    for path, tree, node, code in calls:
        name = _name(node) or ""
        if name not in classes:
            name = _returns(tree, name) or name
        for status in classes.get(name, ()):  # not a domain error: a receipt, a 500
            if status not in CATALOGUE[code].statuses:
                wrong.append((f"{path.relative_to(ROOT)}:{node.lineno}", code, status))
    for cls_name, code in _error_classes(_sources()).items():
        for status in classes[cls_name]:
            if status is not None and status not in CATALOGUE[code].statuses:
                wrong.append((cls_name, code, status))
    for status, code in _HTTP_CODES.items():
        if status not in CATALOGUE[code].statuses:
            wrong.append(("api.problems._HTTP_CODES", code, status))
    for errors in [*OPERATION_ERRORS.values(), *SHARED_ERRORS.values()]:
        for status, codes in errors.items():
            wrong.extend(
                ("api.openapi_errors", c, status)
                for c in codes
                if status not in CATALOGUE[c].statuses
            )
    assert wrong == []


def test_the_openapi_document_lists_the_whole_catalogue() -> None:
    """``components.x-error-catalogue`` of the committed contract is the catalogue (run
    ``patrol contract dump`` after changing infra/error_codes.py)."""
    listed = error_catalogue()
    assert list(listed) == sorted(CATALOGUE)
    media = listed["unsupported_media_type"]
    assert (media["status"], media["alsoStatus"]) == (415, [422])
    assert listed["case_not_found"] == {
        "status": 404,
        "title": {"zh": "未找到该案件", "en": "case not found"},
        "message": {"zh": "未找到该案件", "en": "case not found"},
    }
    assert listed["login_locked"]["title"]["zh"] == "登录失败次数过多，请稍后再试"
    assert listed["future_time"]["status"] is None
    committed = json.loads(CONTRACT_FILE.read_text(encoding="utf-8"))
    assert committed["components"]["x-error-catalogue"] == listed
    code = committed["components"]["schemas"]["Problem"]["properties"]["code"]
    assert "x-error-catalogue" in code["description"]


def test_the_generated_table_lists_each_code_once() -> None:
    table = markdown_table()
    lines = table.splitlines()
    assert (lines[0], lines[-1]) == (TABLE_START, TABLE_END)
    rows = [line for line in lines if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == sorted(CATALOGUE)
    assert "| `unsupported_media_type` | 415, 422 |" in table
    assert "| `future_time` | — |" in table
    assert "Bearer \\<令牌\\>" in table  # not an HTML tag to a Markdown renderer
    for row in rows:
        assert row.count(" | ") == 3, row  # no unescaped | inside a cell


def test_patrol_errors_prints_the_table_and_the_catalogue() -> None:
    patrol = str(Path(sys.executable).with_name("patrol"))
    table = subprocess.run(
        [patrol, "errors", "--markdown"], capture_output=True, text=True, check=True, timeout=60
    )
    assert table.stdout == markdown_table()
    listed = subprocess.run(
        [patrol, "errors", "--json"], capture_output=True, text=True, check=True, timeout=60
    )
    rows = json.loads(listed.stdout)
    assert [row["code"] for row in rows] == list(CATALOGUE)
    assert rows[0]["statuses"] == [] and rows[1]["statuses"] == [404]


def test_readme_error_table_is_the_generated_one() -> None:
    """README.md's table of error codes, between ``<!-- error-codes:start -->`` and
    ``<!-- error-codes:end -->``, is what ``patrol errors --markdown`` prints."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert TABLE_START in readme and TABLE_END in readme, (
        "README.md has no error table: paste the output of `patrol errors --markdown`"
    )
    start = readme.index(TABLE_START)
    end = readme.index(TABLE_END, start) + len(TABLE_END)
    assert readme[start:end] + "\n" == markdown_table(), (
        "README.md's error table is stale: paste the output of `patrol errors --markdown`"
    )


def test_every_code_has_chinese_and_english_text() -> None:
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
