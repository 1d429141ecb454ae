"""A small reader of Mapbox vector tiles (spec 2.1) for tests: layers, features, properties.

Only what the tests look at is decoded: each feature's id, geometry type, properties and
the vertices of its geometry in tile coordinates (the commands' moves and lines, ring
closes skipped). It reads the protobuf wire format directly, so the tests need no
protobuf or mapbox-vector-tile package.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TileFeature", "TileLayer", "decode_tile", "tile_url"]

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
GEOMETRY_TYPES = {0: "unknown", 1: "point", 2: "linestring", 3: "polygon"}


@dataclass
class TileFeature:
    id: int | None
    type: str
    properties: dict[str, Any]
    vertices: list[tuple[int, int]]


@dataclass
class TileLayer:
    name: str
    extent: int
    features: list[TileFeature] = field(default_factory=list)


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    out = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        out |= (byte & 0x7F) << shift
        if byte < 0x80:
            return out, pos
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """``(field number, wire type, value)``: an int for varints, bytes otherwise."""
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == _VARINT:
            value, pos = _varint(buf, pos)
        elif wire == _LEN:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + size], pos + size
        elif wire == _I64:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == _I32:
            value, pos = buf[pos : pos + 4], pos + 4
        else:  # pragma: no cover - groups are not used by the spec
            msg = f"unsupported wire type {wire}"
            raise ValueError(msg)
        out.append((number, wire, value))
    return out


def _packed(buf: bytes) -> list[int]:
    out: list[int] = []
    pos = 0
    while pos < len(buf):
        value, pos = _varint(buf, pos)
        out.append(value)
    return out


def _zigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


_VALUES: dict[int, Any] = {
    1: lambda v: bytes(v).decode(),
    2: lambda v: struct.unpack("<f", v)[0],
    3: lambda v: struct.unpack("<d", v)[0],
    4: lambda v: v,
    5: lambda v: v,
    6: _zigzag,
    7: bool,
}


def _value(buf: bytes) -> Any:
    for number, _, v in _fields(buf):
        if number in _VALUES:
            return _VALUES[number](v)
    return None


def _vertices(commands: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    x = y = i = 0
    while i < len(commands):
        op, count = commands[i] & 7, commands[i] >> 3
        i += 1
        if op == 7:  # ClosePath has no parameters
            continue
        for _ in range(count):
            x += _zigzag(commands[i])
            y += _zigzag(commands[i + 1])
            i += 2
            out.append((x, y))
    return out


def _feature(buf: bytes, keys: list[str], values: list[Any]) -> TileFeature:
    fid, kind, tags, geometry = None, 0, [], []
    for number, _, v in _fields(buf):
        if number == 1:
            fid = v
        elif number == 2:
            tags = _packed(v)
        elif number == 3:
            kind = v
        elif number == 4:
            geometry = _packed(v)
    props = {keys[tags[i]]: values[tags[i + 1]] for i in range(0, len(tags), 2)}
    return TileFeature(fid, GEOMETRY_TYPES[kind], props, _vertices(geometry))


def _layer(buf: bytes) -> TileLayer:
    name, extent = "", 4096
    keys: list[str] = []
    values: list[Any] = []
    raw: list[bytes] = []
    for number, _, v in _fields(buf):
        if number == 1:
            name = bytes(v).decode()
        elif number == 2:
            raw.append(v)
        elif number == 3:
            keys.append(bytes(v).decode())
        elif number == 4:
            values.append(_value(v))
        elif number == 5:
            extent = v
    return TileLayer(name, extent, [_feature(f, keys, values) for f in raw])


def decode_tile(data: bytes) -> dict[str, TileLayer]:
    """The tile's layers by name (an empty tile has none)."""
    return {
        layer.name: layer for layer in (_layer(v) for number, _, v in _fields(data) if number == 3)
    }


def tile_url(layer: str, lon: float, lat: float, z: int) -> str:
    """``GetTile``'s path for the z/x/y tile (web mercator) holding ``lon``, ``lat``."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    rad = math.radians(lat)
    y = int((1 - math.log(math.tan(rad) + 1 / math.cos(rad)) / math.pi) / 2 * n)
    return f"/api/v1/tiles/{layer}/{z}/{x}/{y}.mvt"
