"""Would this change break an installed app? A check of two OpenAPI documents.

The rules (also the evolution rules of :mod:`mobile_contract`):

* an operation id never disappears and never moves to another method or path;
* a response never loses a property, never retypes one, and a property that was always
  present (required) stays required;
* a request never gains a new required property or parameter, never retypes a property,
  and an enum it accepts never loses a value.

Additive changes — new operations, new optional request fields, new response fields, new
enum values in requests — pass. Only the standard library is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["breaking_changes"]

Doc = dict[str, Any]
_METHODS = ("get", "put", "post", "delete", "patch")


def _operations(doc: Doc) -> dict[str, tuple[str, str, Doc]]:
    out: dict[str, tuple[str, str, Doc]] = {}
    for path, item in doc.get("paths", {}).items():
        for method in _METHODS:
            op = item.get(method)
            if op and op.get("operationId"):
                out[op["operationId"]] = (method, path, op)
    return out


class _Resolver:
    def __init__(self, doc: Doc) -> None:
        self.schemas: Doc = doc.get("components", {}).get("schemas", {})

    def __call__(self, schema: Doc | None) -> Doc:
        seen = 0
        while schema and "$ref" in schema and seen < 50:
            schema = self.schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
            seen += 1
        return schema or {}


def _kind(schema: Doc) -> str:
    """A comparable description of a schema's type (``null`` ignored)."""
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        types = sorted(t for t in types if t != "null")
        fmt = schema.get("format", "")
        return "|".join(types) + (f":{fmt}" if fmt else "")
    for key in ("oneOf", "anyOf"):
        if key in schema:
            parts = sorted(
                {_kind(s) if "$ref" not in s else "ref" for s in schema[key]} - {"null", ""}
            )
            return "|".join(parts)
    if "$ref" in schema:
        return "ref"
    if "const" in schema:
        return "const"
    return ""


def _nonnull(schema: Doc, resolve: _Resolver) -> Doc:
    """The single non-null member of an optional (``anyOf [X, null]``) schema."""
    schema = resolve(schema)
    for key in ("oneOf", "anyOf"):
        members = [m for m in schema.get(key, []) if resolve(m).get("type") != "null"]
        if key in schema and len(members) == 1:
            return resolve(members[0])
    return schema


def _compare(
    old: Doc, new: Doc, ro: _Resolver, rn: _Resolver, where: str, *, request: bool, depth: int = 0
) -> Iterator[str]:
    if depth > 12:
        return
    old, new = _nonnull(old, ro), _nonnull(new, rn)
    if _kind(old) != _kind(new) and _kind(old) and _kind(new) != "":
        yield f"{where}: type changed from {_kind(old)} to {_kind(new)}"
        return
    if request and "enum" in old and "enum" in new:
        lost = set(old["enum"]) - set(new["enum"])
        if lost:
            yield f"{where}: accepted values removed: {sorted(map(str, lost))}"
    if old.get("type") == "array" or new.get("type") == "array":
        yield from _compare(
            old.get("items", {}),
            new.get("items", {}),
            ro,
            rn,
            f"{where}[]",
            request=request,
            depth=depth + 1,
        )
        return
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_req, new_req = set(old.get("required", [])), set(new.get("required", []))
    for name, old_schema in old_props.items():
        if name not in new_props:
            yield f"{where}.{name}: field removed"
            continue
        if not request and name in old_req and name not in new_req:
            yield f"{where}.{name}: no longer always present"
        yield from _compare(
            old_schema, new_props[name], ro, rn, f"{where}.{name}", request=request, depth=depth + 1
        )
    if request:
        for name in sorted(new_req - old_req):
            yield f"{where}.{name}: new required field"


def _schema_of(content: dict[str, Doc]) -> Doc:
    """The schema of the first media type (JSON and MessagePack share one schema)."""
    for media in content.values():
        schema: Doc = media.get("schema", {})
        return schema
    return {}


def _body(op: Doc) -> Doc:
    return _schema_of(op.get("requestBody", {}).get("content", {}))


def _ok_response(op: Doc) -> Doc:
    for status, resp in sorted(op.get("responses", {}).items()):
        if str(status).startswith("2"):
            return _schema_of(resp.get("content", {}))
    return {}


def _params(op: Doc) -> dict[tuple[str, str], Doc]:
    return {(p["in"], p["name"]): p for p in op.get("parameters", []) if "name" in p}


def breaking_changes(old: Doc, new: Doc) -> list[str]:
    """Every change from ``old`` to ``new`` that an app built against ``old`` would feel."""
    ro, rn = _Resolver(old), _Resolver(new)
    problems: list[str] = []
    new_ops = _operations(new)
    for op_id, (method, path, old_op) in sorted(_operations(old).items()):
        if op_id not in new_ops:
            problems.append(f"{op_id}: operation removed or renamed")
            continue
        new_method, new_path, new_op = new_ops[op_id]
        if (method, path) != (new_method, new_path):
            problems.append(
                f"{op_id}: moved from {method.upper()} {path} to {new_method.upper()} {new_path}"
            )
        old_params, new_params = _params(old_op), _params(new_op)
        for key, param in new_params.items():
            if param.get("required") and key not in old_params:
                problems.append(f"{op_id}: new required {key[0]} parameter {key[1]}")
        for key, param in old_params.items():
            if key in new_params:
                problems.extend(
                    _compare(
                        param.get("schema", {}),
                        new_params[key].get("schema", {}),
                        ro,
                        rn,
                        f"{op_id} {key[0]} {key[1]}",
                        request=True,
                    )
                )
        problems.extend(
            _compare(_body(old_op), _body(new_op), ro, rn, f"{op_id} request", request=True)
        )
        problems.extend(
            _compare(
                _ok_response(old_op),
                _ok_response(new_op),
                ro,
                rn,
                f"{op_id} response",
                request=False,
            )
        )
    return problems
