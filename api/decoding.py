"""One guard for what a request brings: JSON and MessagePack bodies, query and path parameters.

Checked once, where the request is read, before any handler or service sees a value:

* arrays and objects nest at most :data:`MAX_DEPTH` levels (422 ``nesting_too_deep``);
* no string, object key, query or path parameter holds a NUL character, which PostgreSQL
  refuses in text (422 ``invalid_character``, naming the field);
* integers fit a signed 64-bit column and floats are finite; MessagePack can carry NaN and
  infinity, JSON cannot (422 ``number_out_of_range``, naming the field);
* MessagePack carries only what JSON can (plus timestamps): no binary, no extension types,
  text keys only (400 ``malformed_body``);
* query parameters and form fields go by their declared or camelCase names, and names a
  route does not take are refused (400 ``unknown_parameter``, :mod:`api.query`);
* the body is read strictly into the handler's contract type: a string where a number belongs
  is a 400 ``validation_error`` (Litestar's own conversion is lax: it takes ``"28.5"`` for
  28.5 and ``"true"`` for true). JSON has one number type, so a whole number written with a
  fraction (``34.0``, as some phone encoders write every number) counts as the integer.

Bodies larger than :data:`_INLINE_BYTES` are decoded and checked on a worker thread, so the
event loop keeps answering other requests meanwhile.

A JSON body whose contract type holds nothing the guard would have to look at — only numbers
with a fraction, booleans, enumerations, identifiers and times, in structures, lists and
unions of them (a batch of fixes, a track): no free text, no integers, no untyped values —
is first decoded straight into that type, which checks everything the guard would of what the
handler receives (10,000 fixes: 1.4 ms instead of 12 ms through plain values). Fields the type
does not name are skipped unread there. Whatever that decoding refuses goes the whole way
above, so a refusal reads the same either way.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from functools import partial
from typing import Any

import anyio.to_thread
import msgspec
import msgspec.inspect as mi
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import Empty

from api.query import check_names
from infra import error_codes as codes
from infra.errors import InvalidInputError
from infra.memory import no_cyclic_collection
from mobile_contract.v1.common import Problem

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_DEPTH",
    "GuardedRequest",
    "check_parameters",
    "check_value",
    "decode_body",
    "read_strictly",
]

#: The deepest nesting of arrays and objects a body may have; the contract's deepest
#: legitimate shape (a MultiPolygon inside a push operation) needs 8.
MAX_DEPTH = 32
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_INLINE_BYTES = 256 * 1024
_MSGPACK_TYPES = frozenset(
    {"application/msgpack", "application/x-msgpack", "application/vnd.msgpack"}
)
_INTEGER = re.compile(r"[+-]?\d+")
_WHOLE = -float(2**53)  # whole floats within this are exact integers


def _field(path: tuple[Any, ...]) -> str:
    """``("ops", 3, "name")`` as ``ops[3].name``, the form Litestar's validation errors use."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _refuse(code: str, detail: str, path: tuple[Any, ...], **extra: Any) -> InvalidInputError:
    field = _field(path)
    where = f" at {field}" if field else ""
    return InvalidInputError(f"{detail}{where}", code=code, field=field or None, **extra)


def _check_scalar(value: Any, path: tuple[Any, ...]) -> None:
    kind = type(value)
    if kind is str:
        if "\x00" in value:
            raise _refuse(codes.INVALID_CHARACTER, "text may not contain the NUL character", path)
    elif kind is int:
        if not INT64_MIN <= value <= INT64_MAX:
            msg = "integers must fit in a signed 64-bit number"
            raise _refuse(codes.NUMBER_OUT_OF_RANGE, msg, path)
    elif kind is float:
        if not math.isfinite(value):
            raise _refuse(codes.NUMBER_OUT_OF_RANGE, "numbers must be finite", path)
    elif kind is not bool and kind is not dt.datetime and value is not None:
        raise ValidationException(
            detail=f"could not decode the body: {kind.__name__} values are not accepted"
        )


def check_value(root: Any, *, path: tuple[Any, ...] = (), depth: int = 0) -> None:
    """Apply the guard to a decoded value (iteratively: no recursion on hostile depth).

    ``path`` and ``depth`` place ``root`` inside a larger body (a push operation in ``ops``).
    """
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(root, depth, path)]
    while stack:
        node, level, where = stack.pop()
        kind = type(node)
        if kind is not dict and kind is not list:
            _check_scalar(node, where)
            continue
        if level >= MAX_DEPTH:
            msg = f"arrays and objects may nest at most {MAX_DEPTH} levels"
            raise _refuse(codes.NESTING_TOO_DEEP, msg, where, limit=MAX_DEPTH)
        items = node.items() if kind is dict else enumerate(node)
        for key, value in items:
            if kind is dict:
                _check_key(key, where)
            vt = type(value)
            if vt is float:  # the common case in geometry bodies: no path built unless refused
                if not math.isfinite(value):
                    _check_scalar(value, (*where, key))
                if value.is_integer() and _WHOLE <= value <= -_WHOLE:
                    node[key] = int(value)  # JSON has one number type: 34.0 is 34
            elif vt is dict or vt is list:
                stack.append((value, level + 1, (*where, key)))
            elif vt is not bool and value is not None:
                _check_scalar(value, (*where, key))


def _check_key(key: Any, path: tuple[Any, ...]) -> None:
    if type(key) is not str:
        raise ValidationException(detail="could not decode the body: object keys must be text")
    if "\x00" in key:
        msg = "object keys may not contain the NUL character"
        raise _refuse(codes.INVALID_CHARACTER, msg, path)


def _no_extensions(code: int, _data: memoryview) -> Any:
    msg = f"could not decode the MessagePack body: extension type {code} is not accepted"
    raise ValidationException(detail=msg)


def decode_body(body: bytes, *, msgpack: bool) -> Any:
    """A JSON or MessagePack body as plain values (not yet checked: see :func:`check_value`)."""
    kind = "MessagePack" if msgpack else "JSON"
    try:
        if msgpack:
            value = msgspec.msgpack.decode(body or b"\xc0", ext_hook=_no_extensions)
        else:
            value = msgspec.json.decode(body or b"null")
    except msgspec.DecodeError as exc:  # also a JSON number beyond a double (1e400)
        raise ValidationException(detail=f"could not decode the {kind} body: {exc}") from exc
    except RecursionError as exc:  # msgspec's own limit, near 1,000 levels
        msg = f"arrays and objects may nest at most {MAX_DEPTH} levels"
        raise InvalidInputError(msg, code=codes.NESTING_TOO_DEEP, limit=MAX_DEPTH) from exc
    return value


def _split(message: str) -> tuple[str, str | None]:
    """msgspec's ``"Expected `int`, got `str` - at `$.ops[0].lat`"`` as text and field."""
    text, _, where = message.partition(" - at `$")
    field = where.rstrip("`").lstrip(".")
    return text, (field if field and "..." not in field else None)


def read_strictly(value: Any, target: Any) -> Any:
    """``value`` as ``target`` with msgspec's strict rules, or a 400 naming the field.

    Targets msgspec cannot convert to (none in this API today) are left to Litestar.
    """
    if target is Any:
        return value
    try:
        return msgspec.convert(value, target, strict=True)
    except msgspec.ValidationError as exc:
        text, field = _split(str(exc))
        raise ValidationException(
            detail=f"Validation failed: {text}",
            extra=[{"key": field, "message": text, "source": "body"}],
        ) from exc
    except TypeError:  # not a type msgspec knows
        return value


# What a typed decoding checks in full: a value of these kinds that decodes is one the guard
# passes (text and integers are left to the guard: NUL characters, the 64-bit range, 34.0).
_CHECKED_BY_TYPE = (
    mi.FloatType, mi.BoolType, mi.NoneType, mi.EnumType, mi.LiteralType, mi.UUIDType,
    mi.DateTimeType, mi.DateType,
)  # fmt: skip


def _checked_by_type(info: mi.Type, seen: set[type] | None = None) -> bool:
    seen = set() if seen is None else seen
    inner: tuple[mi.Type, ...]
    if isinstance(info, _CHECKED_BY_TYPE):
        return True
    if isinstance(info, mi.Metadata):
        inner = (info.type,)
    elif isinstance(info, mi.ListType | mi.VarTupleType | mi.FrozenSetType | mi.SetType):
        inner = (info.item_type,)
    elif isinstance(info, mi.TupleType):
        inner = info.item_types
    elif isinstance(info, mi.UnionType):
        inner = info.types
    elif isinstance(info, mi.StructType) and info.cls not in seen:
        seen = seen | {info.cls}  # a recursive type nests without bound: the guard counts
        inner = tuple(f.type for f in info.fields)
    else:
        return False
    return all(_checked_by_type(t, seen) for t in inner)


@functools.cache
def typed_decoder(target: Any) -> msgspec.json.Decoder[Any] | None:
    """A strict JSON decoder straight into ``target`` when the type checks all the guard
    would (see the module's docstring), else ``None``."""
    try:
        info = mi.type_info(target)
    except (TypeError, ValueError):  # not a type msgspec knows
        return None
    if not isinstance(info, mi.StructType) or not _checked_by_type(info):
        return None
    return msgspec.json.Decoder(target, strict=True)


def _decode_typed(decoder: msgspec.json.Decoder[Any], body: bytes) -> Any:
    """The body as its contract type, or :data:`Empty` for the guard's whole way to answer."""
    try:
        with no_cyclic_collection():  # thousands of acyclic Structs
            return decoder.decode(body)
    except (msgspec.DecodeError, RecursionError):
        return Empty


class GuardedRequest(Request[Any, Any, Any]):
    """The request class of the app: every JSON (or MessagePack) body passes the guard.

    Subclasses say which bodies are MessagePack (:meth:`is_msgpack`), adapt the raw bytes
    (:meth:`body_bytes`) and check the plain decoded value before it is typed
    (:meth:`prepare`, which must call :func:`check_value` on what it keeps).
    """

    def is_msgpack(self) -> bool:
        return False

    async def body_bytes(self) -> bytes:
        return await self.body()

    def prepare(self, value: Any) -> Any:
        """Check the plain decoded value (on a worker thread when the body is large)."""
        check_value(value)
        return value

    async def json(self) -> Any:
        if self._json is not Empty:
            return self._json
        body = await self.body_bytes()
        msgpack = self.is_msgpack()
        if body and not msgpack:
            _require_json(self.content_type[0])
        data = self.route_handler.parsed_data_field
        target = Any if data is None else data.annotation
        typed = None
        if body and not msgpack and type(self).prepare is GuardedRequest.prepare:
            try:
                typed = typed_decoder(target)
            except TypeError:  # an annotation that cannot be a cache key: the guard's way
                typed = None
        read = partial(self._read, body, msgpack=msgpack, target=target, typed=typed)
        inline = len(body) <= _INLINE_BYTES
        self._json = read() if inline else await anyio.to_thread.run_sync(read)
        return self._json

    def _read(
        self, body: bytes, *, msgpack: bool, target: Any, typed: msgspec.json.Decoder[Any] | None
    ) -> Any:
        if typed is not None and (value := _decode_typed(typed, body)) is not Empty:
            return value
        return read_strictly(self.prepare(decode_body(body, msgpack=msgpack)), target)


def _require_json(media_type: str) -> None:
    """A body sent as another format is refused (no ``Content-Type`` is read as JSON)."""
    if not media_type or media_type == "application/json" or media_type.endswith("+json"):
        return
    raise HTTPException(
        status_code=415, detail=f"send the body as application/json, not {media_type[:60]}"
    )


def _beyond_int64(value: Any) -> bool:
    if type(value) is int:
        return not INT64_MIN <= value <= INT64_MAX
    if not isinstance(value, str) or len(value) < 19 or not _INTEGER.fullmatch(value):
        return False
    digits = value.lstrip("+-").lstrip("0")
    # int() of a very long string is slow (and refused past 4,300 digits): count first
    return len(digits) > 19 or not INT64_MIN <= int(value) <= INT64_MAX


async def check_parameters(request: Request[Any, Any, Any]) -> Response[Problem] | None:
    """The guard for query and path parameters (a ``before_request`` hook).

    NUL characters are refused everywhere, and integer-looking values beyond a signed 64-bit
    number too (handlers bound their own integers more tightly where it matters). Then query
    and form names are checked and camelCase ones translated (:mod:`api.query`): the answer
    is the refusal of an unknown name, or ``None`` to go on.
    """
    params = [*request.query_params.multi_items(), *request.path_params.items()]
    for name, value in params:
        text = value if isinstance(value, str) else None
        if "\x00" in name or (text is not None and "\x00" in text):
            msg = "parameters may not contain the NUL character"
            raise _refuse(codes.INVALID_CHARACTER, msg, (name.replace("\x00", ""),))
        if _beyond_int64(value):
            msg = "integers must fit in a signed 64-bit number"
            raise _refuse(codes.NUMBER_OUT_OF_RANGE, msg, (name,))
    return await check_names(request)
