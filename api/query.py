"""Parameter names on the wire: camelCase accepted everywhere, unknown names refused.

Bodies are camelCase; query parameters and form fields are declared in Python
(``patrol_id``). For every route, before the handler's arguments are read:

* a query parameter may be sent under its declared name (``patrol_id``) or in camelCase
  (``patrolId``); the camelCase name is translated to the declared one;
* a query parameter the route does not declare (its handler's and its dependencies'
  parameters, as Litestar's kwargs model lists them) is refused: 400 ``unknown_parameter``
  naming it, with ``details.in`` = ``query`` and ``details.accepted`` = the names it takes;
* the same for the fields of a ``multipart/form-data`` or urlencoded body read into a
  dataclass or Struct (``ImportLayer``: ``fieldMap`` is ``field_map``; ``dryRun`` is
  ``dry_run``), with ``details.in`` = ``form``.

A parameter sent under both names counts as that name repeated: a list parameter gets
every value, a single-valued query parameter the last one (Litestar's rule for a repeated
name), a single-valued form field is refused (400 ``validation_error``).
:func:`document_wire` writes the accepted camelCase name of each query parameter into
the OpenAPI document (``x-aliases`` and a sentence in the description), and of each form
field (description); it also marks the contract members declared deprecated.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import msgspec
import msgspec.inspect
from litestar import Litestar, Request, Response
from litestar.enums import ParamType, RequestEncodingType
from litestar.openapi.spec import OpenAPI, Operation, Parameter, Reference, RequestBody, Schema
from litestar.routes import HTTPRoute
from litestar.types import Empty
from litestar.utils.scope.state import ScopeState

import mobile_contract.v1
from api.problems import problem_response, request_lang
from infra import error_codes as codes
from infra.messages import render
from mobile_contract.naming import camel
from mobile_contract.v1.common import FieldError, Problem

if TYPE_CHECKING:
    from litestar._kwargs.kwargs_model import KwargsModel

__all__ = ["camel", "check_names", "document_wire"]

_FORM_TYPES = frozenset({RequestEncodingType.MULTI_PART, RequestEncodingType.URL_ENCODED})


@dataclasses.dataclass(frozen=True, slots=True)
class _Names:
    """What one route handler takes: each accepted name → the declared one."""

    query: dict[str, str]
    form: dict[str, str] | None  # None: no form body, or not read into named fields
    # declared query names read as a date-time or a date: their text must be one
    times: dict[str, re.Pattern[str]] = dataclasses.field(default_factory=dict)


def _accepting(declared: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in declared:
        out.setdefault(camel(name), name)
    for name in declared:
        out[name] = name  # a declared name always means itself
    return out


def _form_fields(model: KwargsModel) -> list[str] | None:
    if not model.expected_form_data:
        return None
    _media, field = model.expected_form_data
    limit = getattr(field.kwarg_definition, "multipart_form_part_limit", None)
    if limit is not None:  # Litestar parses that form itself, with its own part limit
        return None
    kind = field.annotation
    if dataclasses.is_dataclass(kind):
        return [f.name for f in dataclasses.fields(kind)]
    if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
        return [f.encode_name for f in msgspec.structs.fields(kind)]
    return None  # a plain mapping or a list of files: any name goes


#: RFC 3339 as the OpenAPI ``date-time`` and ``date`` formats mean it. Litestar would also read
#: a number as a Unix time and ``null`` as no value, which the document does not allow.
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _time_format(handler: Any, field_name: str) -> re.Pattern[str] | None:
    field = handler.parsed_fn_signature.parameters.get(field_name)
    if field is None:
        return None
    kinds = [field.annotation, *(t.annotation for t in field.inner_types)]
    if datetime in kinds:
        return _DATE_TIME
    if date in kinds:
        return _DATE
    return None


def _names_of(handler: Any, model: KwargsModel) -> _Names:
    params = [p for p in model.expected_query_params if p.param_type == ParamType.QUERY]
    query = [p.field_alias for p in params]
    form = _form_fields(model)
    times = {
        p.field_alias: pattern
        for p in params
        if (pattern := _time_format(handler, p.field_name)) is not None
    }
    return _Names(
        query=_accepting(query), form=None if form is None else _accepting(form), times=times
    )


_STATE_KEY = "parameter_names"


def _table(app: Litestar) -> dict[int, _Names]:
    """Every HTTP route handler of ``app`` (by identity) with the names it takes; built on
    the first request and kept in the app's state."""
    table: dict[int, _Names] | None = app.state.get(_STATE_KEY)
    if table is None:
        table = {}
        for route in app.routes:
            if isinstance(route, HTTPRoute):
                for handler, model in route.route_handler_map.values():
                    table[id(handler)] = _names_of(handler, model)
        app.state[_STATE_KEY] = table
    return table


def _refuse(
    request: Request[Any, Any, Any], name: str, where: str, accepted: dict[str, str]
) -> Response[Problem]:
    names = sorted({camel(n) for n in accepted.values()})
    return _problem(request, code=codes.UNKNOWN_PARAMETER, name=name, where=where, accepted=names)


def _not_a_time(
    request: Request[Any, Any, Any], name: str, value: str, day: bool
) -> Response[Problem]:
    want = "a date (YYYY-MM-DD)" if day else "a date-time with its offset (RFC 3339)"
    detail = f"query parameter {name!r} must be {want}, not {value[:40]!r}"
    message = render(codes.VALIDATION_ERROR, request_lang(request), {}, fallback=detail)
    return problem_response(
        request,
        status=400,
        code=codes.VALIDATION_ERROR,
        detail=detail,
        errors=[FieldError(field=name, message=message)],
        details={"parameter": name, "in": "query"},
    )


def _problem(
    request: Request[Any, Any, Any], *, code: str, name: str, where: str, accepted: list[str]
) -> Response[Problem]:
    kind = "query parameter" if where == "query" else "form field"
    detail = f"unknown {kind} {name!r}; this operation takes: {', '.join(accepted) or 'none'}"
    message = render(code, request_lang(request), {"name": name}, fallback=detail)
    return problem_response(
        request,
        status=400,
        code=code,
        detail=detail,
        errors=[FieldError(field=name, message=message)],
        details={"parameter": name, "in": where, "accepted": accepted},
        params={"name": name},
    )


def _read_query(request: Request[Any, Any, Any], names: _Names) -> Response[Problem] | None:
    """Check each query name (and a time's text), translating camelCase names in place."""
    pairs = list(request.query_params.multi_items())
    if not pairs:
        return None
    renamed: list[tuple[str, Any]] = []
    for key, value in pairs:
        declared = names.query.get(key)
        if declared is None:
            return _refuse(request, key, "query", names.query)
        pattern = names.times.get(declared)
        if pattern is not None and not pattern.fullmatch(str(value)):
            return _not_a_time(request, key, str(value), pattern is _DATE)
        renamed.append((declared, value))
    if any(old != new for (old, _), (new, _) in zip(pairs, renamed, strict=True)):
        parsed = tuple(renamed)
        ScopeState.from_scope(request.scope).parsed_query = parsed
        request._parsed_query = parsed  # what Litestar's query extractor reads
    return None


async def check_names(request: Request[Any, Any, Any]) -> Response[Problem] | None:
    """Translate camelCase query and form names to the declared ones; refuse unknown names.

    Runs as part of the ``before_request`` hook: after routing and the guards, before the
    handler's arguments are read. Answers the refusal, or ``None`` to go on.
    """
    if request.method == "OPTIONS":  # a CORS preflight repeats the query of what it asks
        return None
    names = _table(request.app).get(id(request.route_handler))
    if names is None:  # not an HTTP route of this app (cannot happen; never refuse then)
        return None
    refused = _read_query(request, names)
    if refused is not None:
        return refused
    media_type, options = request.content_type
    if names.form is None or media_type not in _FORM_TYPES:
        return None
    if media_type == RequestEncodingType.MULTI_PART and not options.get("boundary"):
        return None  # not a form at all: Litestar's own reading refuses it (400 bad_request)
    return await _check_form(request, names.form)


async def _check_form(
    request: Request[Any, Any, Any], accepted: dict[str, str]
) -> Response[Problem] | None:
    await request.form()  # parsed once; Litestar's form extractor reads the scope's copy
    state = ScopeState.from_scope(request.scope)
    form = state.form
    if form is Empty or not isinstance(form, dict):
        return None
    out: dict[str, Any] = {}
    for key, value in form.items():
        declared = accepted.get(key)
        if declared is None:
            return _refuse(request, key, "form", accepted)
        if declared in out:
            first = out[declared]
            out[declared] = [
                *(first if isinstance(first, list) else [first]),
                *(value if isinstance(value, list) else [value]),
            ]
        else:
            out[declared] = value
    form.clear()
    form.update(out)
    return None


@dataclasses.dataclass
class _AliasedParameter(Parameter):
    """A query parameter that also lists its other accepted names as ``x-aliases``."""

    aliases: tuple[str, ...] = ()

    @property
    def _exclude_fields(self) -> set[str]:
        return {"aliases"}

    def to_schema(self) -> dict[str, Any]:
        schema = super().to_schema()
        schema["x-aliases"] = list(self.aliases)
        return schema


def _documented(parameter: Parameter) -> Parameter:
    alias = camel(parameter.name)
    if alias == parameter.name or isinstance(parameter, _AliasedParameter):
        return parameter
    values = {f.name: getattr(parameter, f.name) for f in dataclasses.fields(parameter)}
    said = parameter.description.rstrip() + " " if parameter.description else ""
    values["description"] = f"{said}Also accepted as `{alias}` (camelCase)."
    return _AliasedParameter(**values, aliases=(alias,))


def _contract_structs() -> list[type[msgspec.Struct]]:
    out: list[type[msgspec.Struct]] = []
    for info in pkgutil.iter_modules(mobile_contract.v1.__path__):
        module = importlib.import_module(f"mobile_contract.v1.{info.name}")
        out.extend(
            obj
            for obj in vars(module).values()
            if isinstance(obj, type)
            and issubclass(obj, msgspec.Struct)
            and obj.__module__ == module.__name__
        )
    return out


def _deprecated_members(cls: type[msgspec.Struct]) -> list[str]:
    """The wire names of ``cls``'s members marked ``deprecated`` in their ``msgspec.Meta``."""
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    return [
        f.encode_name
        for f in info.fields
        if isinstance(f.type, msgspec.inspect.Metadata)
        and (f.type.extra_json_schema or {}).get("deprecated") is True
    ]


def _schema(document: OpenAPI, name: str) -> Schema | None:
    schemas = document.components.schemas if document.components else None
    found = (schemas or {}).get(name)
    return found if isinstance(found, Schema) else None


def _mark_deprecated(document: OpenAPI) -> None:
    """``deprecated: true`` on the contract members that say so (Litestar drops the mark)."""
    for cls in _contract_structs():
        schema = _schema(document, cls.__name__)
        for member in _deprecated_members(cls):
            prop = (schema.properties or {}).get(member) if schema else None
            if isinstance(prop, Schema):
                prop.deprecated = True


def _document_form(document: OpenAPI, operation: Operation) -> None:
    """A form body takes no other fields (``additionalProperties: false``) but the
    camelCase names of its snake_case ones, said in their description."""
    body = operation.request_body
    if not isinstance(body, RequestBody):
        return
    for media_type, content in body.content.items():
        if media_type not in _FORM_TYPES or not isinstance(content.schema, Reference):
            continue
        schema = _schema(document, content.schema.ref.rsplit("/", 1)[-1])
        if schema is None or not schema.properties:
            continue
        schema.additional_properties = False  # another field is refused (400)
        for name, prop in schema.properties.items():
            alias = camel(name)
            if alias != name and isinstance(prop, Schema) and alias not in (prop.description or ""):
                said = prop.description.rstrip() + " " if prop.description else ""
                prop.description = f"{said}Also accepted as `{alias}` (camelCase)."


def document_wire(document: OpenAPI) -> None:
    """Complete the document with what Litestar leaves out of the wire's names.

    Each snake_case query parameter names the camelCase name it also takes (``x-aliases``
    and its description), and so does each form field (description); contract members
    marked deprecated say so.
    """
    for path in (document.paths or {}).values():
        for operation in (path.get, path.post, path.put, path.patch, path.delete):
            if operation is None:
                continue
            _document_form(document, operation)
            if operation.parameters:
                operation.parameters = [
                    _documented(p) if isinstance(p, Parameter) and p.param_in == "query" else p
                    for p in operation.parameters
                ]
    _mark_deprecated(document)
