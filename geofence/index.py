"""The in-process spatial index: flat NumPy arrays per county and current layer version.

PostGIS is the source of truth; the index is a cache of the current versions, projected to a
transverse Mercator centred on the county so distances are in metres. It is refreshed when a
layer version changes: a process asks the database which versions are current at most every
``max_age_s`` seconds (default 1 s), at once after an import in this process, and always
within a session that changed this county's layers (those read their own uncommitted data and
never share it). Every answer names the versions it used, so a stale-by-a-second answer is
still reproducible.

A simple feature (at most :data:`MAX_SEGMENTS` edges, most parcels) costs about 220 bytes:
its edges, its box on the search grid, its id, land class code and attribute index; no
Python or GEOS object is kept for it. The process-wide :class:`GeofenceIndex` holds counties
within a memory budget (``PATROL_INDEX_BUDGET_MB``), least recently used first out; checks
of a county it does not hold are answered by PostGIS.
"""

from __future__ import annotations

import array
import asyncio
import itertools
import math
import pickle
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
import numpy.typing as npt
import shapely
import structlog
from shapely.prepared import PreparedGeometry, prep
from sqlalchemy import Select, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from geofence.crs import LocalProjection, local_projection
from geofence.enums import LayerKind
from geofence.errors import CountyNotFoundError
from geofence.layers import DIRTY_KEY, current_versions, register_as_of
from geofence.models import ChangePolygon, MineSiteRevision, Parcel, PlanningZone
from infra.memory import release_free_memory

__all__ = [
    "DEFAULT_INDEX",
    "AttrColumn",
    "BoxGrid",
    "CodeColumn",
    "CountyIndex",
    "GeofenceIndex",
    "IdColumn",
    "IndexSize",
    "LayerSnapshot",
    "Segments",
    "attribute_columns",
    "build_layer",
    "feature_attributes",
]

#: How far outside the county boundary a fix may lie before it is refused (GPS near the
#: border, neighbouring villages). Further out it is almost surely a wrong coordinate.
OUTSIDE_MARGIN_M = 10_000.0


#: Features with more edges than this are measured by GEOS; simpler ones (most parcels have a
#: handful of vertices) by :meth:`Segments.measure`, which avoids GEOS's per-pair overhead.
MAX_SEGMENTS = 48
#: Room made in a budgeted index before a county is loaded, in multiples of its size.
_LOAD_ROOM = 3
#: Features read, projected and reduced to arrays at a time when a layer is loaded.
_LOAD_CHUNK = 5_000
#: Point-segment pairs worked on at once by :meth:`Segments.measure` (bounds its memory).
_MEASURE_BLOCK = 400_000

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(slots=True)
class Segments:
    """Every edge of a layer's projected features as flat arrays, grouped by feature.

    Feature ``f`` owns edges ``start[f]:start[f] + count[f]``; ``simple[f]`` says whether the
    feature is measured here (at most :data:`MAX_SEGMENTS` edges). A point is one edge of
    length zero; polygon edges are those of all its rings (holes and parts included).
    """

    x1: FloatArray
    y1: FloatArray
    dx: FloatArray
    dy: FloatArray
    ring_head: npt.NDArray[np.bool_]  # the edge starts a ring (or line, or point)
    start: npt.NDArray[np.int64]
    count: npt.NDArray[np.int32]
    simple: npt.NDArray[np.bool_]

    @classmethod
    def of(
        cls, geoms: npt.NDArray[np.object_], boundaries: npt.NDArray[np.object_],
        areal: npt.NDArray[np.bool_],
    ) -> Segments:  # fmt: skip
        n = len(geoms)
        outline = np.where(areal, boundaries, geoms) if n else np.array([], dtype=object)
        parts, owner = shapely.get_parts(outline, return_index=True)
        coords, part = shapely.get_coordinates(parts, return_index=True)
        ptype = shapely.get_type_id(parts)
        # consecutive vertices of one line make an edge; a point is an edge to itself
        same = part[1:] == part[:-1]
        a_idx = np.flatnonzero(same)
        b_idx = a_idx + 1
        pts = np.flatnonzero(ptype[part] == 0)
        a_idx = np.concatenate([a_idx, pts])
        b_idx = np.concatenate([b_idx, pts])
        seg_owner = owner[part[a_idx]]
        order = np.argsort(seg_owner, kind="stable")
        a_idx, b_idx, seg_owner = a_idx[order], b_idx[order], seg_owner[order]
        x1, y1 = coords[a_idx, 0], coords[a_idx, 1]
        dx, dy = coords[b_idx, 0] - x1, coords[b_idx, 1] - y1
        ring = part[a_idx]
        ring_head = np.ones(len(ring), dtype=bool)
        ring_head[1:] = ring[1:] != ring[:-1]
        count = np.bincount(seg_owner, minlength=n).astype(np.int32)
        start = (np.cumsum(count, dtype=np.int64) - count).astype(np.int64)
        types = shapely.get_type_id(geoms) if n else np.array([], dtype=np.int32)
        known = np.isin(types, (0, 1, 2, 3, 4, 5, 6))  # no collections, no curves
        simple = known & (count > 0) & (count <= MAX_SEGMENTS)
        return cls(x1, y1, dx, dy, ring_head, start, count, simple)

    @classmethod
    def concat(cls, parts: list[Segments]) -> Segments:
        """The edges of several runs of features, one after the other. ``parts`` is emptied
        as it is copied (each run's arrays freed once copied)."""
        counts = np.concatenate([p.count for p in parts]).astype(np.int32)
        edges = int(sum(len(p.x1) for p in parts))
        out = cls(
            np.empty(edges), np.empty(edges), np.empty(edges), np.empty(edges),
            np.empty(edges, dtype=bool), (np.cumsum(counts, dtype=np.int64) - counts),
            counts, np.concatenate([p.simple for p in parts]),
        )  # fmt: skip
        at = 0
        parts.reverse()
        while parts:
            p = parts.pop()
            end = at + len(p.x1)
            out.x1[at:end], out.y1[at:end], out.dx[at:end], out.dy[at:end] = p.x1, p.y1, p.dx, p.dy
            out.ring_head[at:end] = p.ring_head
            at = end
        return out

    def keep_simple(self) -> Segments:
        """The same without the edges of features that are not simple (GEOS measures them)."""
        owner = np.repeat(np.arange(len(self.count)), self.count)
        take = self.simple[owner]
        count = np.where(self.simple, self.count, 0).astype(np.int32)
        return Segments(
            self.x1[take], self.y1[take], self.dx[take], self.dy[take], self.ring_head[take],
            (np.cumsum(count, dtype=np.int64) - count).astype(np.int64), count, self.simple,
        )  # fmt: skip

    @property
    def nbytes(self) -> int:
        arrays = (self.x1, self.y1, self.dx, self.dy, self.ring_head, self.start, self.count,
                  self.simple)  # fmt: skip
        return sum(a.nbytes for a in arrays)

    def geometry(self, f: int, areal: bool) -> shapely.Geometry:
        """Feature ``f`` built again from its edges: a polygon from its rings by the even-odd
        rule (the same area as the valid polygon they came from), else points and lines."""
        lo = int(self.start[f])
        hi = lo + int(self.count[f])
        heads = [*np.flatnonzero(self.ring_head[lo:hi]).tolist(), hi - lo]
        rings = []
        for a, b in itertools.pairwise(heads):
            xs, ys = self.x1[lo + a : lo + b], self.y1[lo + a : lo + b]
            if areal:  # closed exactly on the first vertex (x + dx may be an ulp off)
                xs, ys = np.append(xs, xs[0]), np.append(ys, ys[0])
            else:
                xs = np.append(xs, self.x1[lo + b - 1] + self.dx[lo + b - 1])
                ys = np.append(ys, self.y1[lo + b - 1] + self.dy[lo + b - 1])
            rings.append(np.column_stack([xs, ys]))
        if areal:
            polys = [shapely.Polygon(r) for r in rings]
            out = polys[0]
            for poly in polys[1:]:
                out = shapely.symmetric_difference(out, poly)
            return out
        if len(rings) == 1 and len(rings[0]) == 2 and not (rings[0][0] != rings[0][1]).any():
            return shapely.Point(rings[0][0])
        lines = [shapely.LineString(r) for r in rings]
        return lines[0] if len(lines) == 1 else shapely.MultiLineString(lines)

    def measure(
        self, feature: IntArray, px: FloatArray, py: FloatArray, areal: npt.NDArray[np.bool_]
    ) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
        """For pairs of (simple) feature and point: distance to the outline, point inside.

        ``areal`` is per pair; "inside" is the even-odd rule over all rings, which for the
        valid polygons of a layer is inside the polygon (holes excluded).
        """
        edge = np.empty(len(feature))
        inside = np.zeros(len(feature), dtype=bool)
        counts = self.count[feature].astype(np.intp)
        ends = np.cumsum(counts)
        lo = 0
        while lo < len(feature):
            base = int(ends[lo - 1]) if lo else 0
            hi = int(np.searchsorted(ends, base + _MEASURE_BLOCK, side="right"))
            hi = max(hi, lo + 1)
            self._measure_block(feature[lo:hi], px[lo:hi], py[lo:hi], counts[lo:hi],
                                edge[lo:hi], inside[lo:hi])  # fmt: skip
            lo = hi
        inside &= areal
        return edge, inside

    def measure_one(self, f: int, px: float, py: float) -> tuple[float, bool]:
        """:meth:`measure` of one (simple) feature and one point, in plain floats: the same
        arithmetic in the same order, so the same distance to the last bit, and "inside" by
        the even-odd rule over all rings (before the feature's ``areal`` is applied)."""
        lo = int(self.start[f])
        hi = lo + int(self.count[f])
        best = math.inf
        crossings = 0
        for ax, ay, dx, dy in zip(self.x1[lo:hi].tolist(), self.y1[lo:hi].tolist(),
                                  self.dx[lo:hi].tolist(), self.dy[lo:hi].tolist(),
                                  strict=True):  # fmt: skip
            wx, wy = px - ax, py - ay
            len2 = dx * dx + dy * dy
            inv_len2 = 1.0 / len2 if len2 > 0 else 0.0
            t = min(max((wx * dx + wy * dy) * inv_len2, 0.0), 1.0)
            ex, ey = wx - t * dx, wy - t * dy
            best = min(best, ex * ex + ey * ey)
            if (ay > py) != (ay + dy > py) and wx < dx * wy / dy:
                crossings += 1
        return math.sqrt(best), bool(crossings & 1)

    def _measure_block(  # noqa: PLR0917 - internal, vectorised kernel
        self, feature: IntArray, px: FloatArray, py: FloatArray, counts: IntArray,
        edge_out: FloatArray, inside_out: npt.NDArray[np.bool_],
    ) -> None:  # fmt: skip
        counts = counts.astype(np.intp)
        first = np.cumsum(counts) - counts
        total = int(counts.sum())
        pair = np.repeat(np.arange(len(feature)), counts)
        seg = np.repeat(self.start[feature] - first, counts) + np.arange(total)
        qx, qy = px[pair], py[pair]
        ax, ay, dx, dy = self.x1[seg], self.y1[seg], self.dx[seg], self.dy[seg]
        wx, wy = qx - ax, qy - ay
        len2 = dx * dx + dy * dy
        inv_len2 = np.divide(1.0, len2, out=np.zeros_like(len2), where=len2 > 0)
        t = np.clip((wx * dx + wy * dy) * inv_len2, 0.0, 1.0)
        ex, ey = wx - t * dx, wy - t * dy
        edge_out[:] = np.sqrt(np.minimum.reduceat(ex * ex + ey * ey, first))
        straddles = (ay > qy) != (ay + dy > qy)
        with np.errstate(divide="ignore", invalid="ignore"):
            crosses = straddles & (wx < dx * wy / dy)
        inside_out[:] = (np.add.reduceat(crosses.astype(np.int32), first) & 1).astype(bool)


#: Smallest grid cell (m): about the search box of a fix of 30 m accuracy, so most fixes
#: touch one to four cells.
_MIN_CELL_M = 64.0
#: Cell sizes grow by this factor from one grid level to the next.
_LEVEL_FACTOR = 4.0
#: Level-0 cells are as large as this share of the layer's features (the rest go higher up).
_BASE_QUANTILE = 0.95
#: A search box spanning more cells than this along an axis goes to the STRtree instead.
_MAX_SPAN = 3
#: Search-box x feature-box comparisons made at once by :meth:`BoxGrid.scan`.
_SCAN_BLOCK = 1 << 20
_KEY_OFFSET = 1 << 20
_KEY_STRIDE = 1 << 22


@dataclass(slots=True)
class _Level:
    cell: float
    keys: npt.NDArray[np.int64]  # sorted distinct cell keys
    starts: npt.NDArray[np.int32]  # where each cell's features start in ``features``
    counts: npt.NDArray[np.int32]
    features: npt.NDArray[np.int32]


@dataclass(slots=True)
class BoxGrid:
    """Bounding boxes of a layer's features on grids of square cells, for candidate search.

    Level-0 cells are as large as 95 % of the features, and each level's cells are four
    times the size of the one below; each feature sits on the finest level whose cells are
    at least as large as it is, so it touches at most 2 x 2 cells there. :meth:`query` finds
    the features whose box meets each search box with NumPy alone, which (unlike building a
    GEOS box per fix for the STRtree) runs in parallel on worker threads. Search boxes larger
    than a few level-0 cells are left to the caller.
    """

    x0: float
    y0: float
    bounds: FloatArray  # (n, 4): xmin, ymin, xmax, ymax
    levels: list[_Level]

    @classmethod
    def of(cls, geoms: npt.NDArray[np.object_]) -> BoxGrid:
        return cls.of_bounds(shapely.bounds(geoms) if len(geoms) else np.empty((0, 4)))

    @classmethod
    def of_bounds(cls, bounds: FloatArray) -> BoxGrid:
        """The grid of features whose boxes are ``bounds`` (rows xmin, ymin, xmax, ymax)."""
        ok = np.isfinite(bounds).all(axis=1)
        x0 = float(bounds[ok, 0].min()) if ok.any() else 0.0
        y0 = float(bounds[ok, 1].min()) if ok.any() else 0.0
        extent = np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])
        base = float(np.quantile(extent[ok], _BASE_QUANTILE)) if ok.any() else 0.0
        base = max(_MIN_CELL_M, base)
        with np.errstate(divide="ignore", invalid="ignore"):
            level = np.ceil(np.log(np.maximum(extent, 1e-9) / base) / np.log(_LEVEL_FACTOR))
        level = np.where(ok, np.maximum(level, 0), -1).astype(np.intp)
        levels = []
        for k in range(int(level.max()) + 1 if len(level) else 0):
            members = np.flatnonzero(level == k)
            if not len(members):
                continue
            cell = base * _LEVEL_FACTOR**k
            b = bounds[members]
            kx0, kx1 = _cells(b[:, 0], x0, cell), _cells(b[:, 2], x0, cell)
            ky0, ky1 = _cells(b[:, 1], y0, cell), _cells(b[:, 3], y0, cell)
            keys, feats = [], []
            for dx in range(3):  # two cells, three should rounding make one a hair small
                for dy in range(3):
                    take = (kx0 + dx <= kx1) & (ky0 + dy <= ky1)
                    keys.append(_key(kx0[take] + dx, ky0[take] + dy))
                    feats.append(members[take].astype(np.int32))
            del kx0, kx1, ky0, ky1, b
            all_keys = np.concatenate(keys)
            del keys
            order = np.argsort(all_keys, kind="stable")
            all_keys = all_keys[order]
            all_feats = np.concatenate(feats)[order]
            del feats, order
            # the keys are sorted: each distinct one starts where it differs from the last
            heads = np.ones(len(all_keys), dtype=bool)
            np.not_equal(all_keys[1:], all_keys[:-1], out=heads[1:])
            starts = np.flatnonzero(heads).astype(np.int32)
            del heads
            counts = np.diff(np.append(starts, len(all_keys))).astype(np.int32)
            levels.append(_Level(cell, all_keys[starts], starts, counts, all_feats))
        return cls(x0, y0, bounds, levels)

    @property
    def nbytes(self) -> int:
        levels = (a.nbytes for lv in self.levels for a in (lv.keys, lv.starts, lv.counts,
                                                           lv.features))  # fmt: skip
        return self.bounds.nbytes + sum(levels)

    def query_box(self, x0: float, y0: float, x1: float, y1: float) -> IntArray:
        """Features whose boxes meet one (large) box, by a scan of every box."""
        b = self.bounds
        return np.flatnonzero((b[:, 0] <= x1) & (b[:, 2] >= x0) & (b[:, 1] <= y1) & (b[:, 3] >= y0))

    def scan(
        self, qx0: FloatArray, qy0: FloatArray, qx1: FloatArray, qy1: FloatArray
    ) -> tuple[IntArray, IntArray]:
        """``(box, feature)`` pairs whose boxes meet, by a scan of every feature's box (for
        the search boxes :meth:`query` leaves out), a block of search boxes at a time."""
        b = self.bounds
        step = max(1, _SCAN_BLOCK // max(1, len(b)))
        boxes: list[IntArray] = [np.empty(0, dtype=np.intp)]
        features: list[IntArray] = [np.empty(0, dtype=np.intp)]
        for lo in range(0, len(qx0), step):
            hi = lo + step
            with np.errstate(invalid="ignore"):
                meets = (
                    (b[None, :, 0] <= qx1[lo:hi, None]) & (b[None, :, 2] >= qx0[lo:hi, None])
                    & (b[None, :, 1] <= qy1[lo:hi, None]) & (b[None, :, 3] >= qy0[lo:hi, None])
                )  # fmt: skip
            q, f = np.nonzero(meets)
            boxes.append((q + lo).astype(np.intp))
            features.append(f.astype(np.intp))
        return np.concatenate(boxes), np.concatenate(features)

    def query(
        self, qx0: FloatArray, qy0: FloatArray, qx1: FloatArray, qy1: FloatArray
    ) -> tuple[IntArray, IntArray, IntArray]:
        """``(box, feature)`` pairs whose boxes meet, each once, and the search boxes too
        large for the grid (not answered here)."""
        if not self.levels:
            empty = np.empty(0, dtype=np.intp)
            return empty, empty, np.arange(len(qx0), dtype=np.intp)
        cell0 = self.levels[0].cell
        placed = np.isfinite(qx0) & np.isfinite(qy0) & np.isfinite(qx1) & np.isfinite(qy1)
        with np.errstate(invalid="ignore"):  # a fix the projection cannot place: the caller's
            big = (qx1 - qx0 > (_MAX_SPAN - 1) * cell0) | (qy1 - qy0 > (_MAX_SPAN - 1) * cell0)
        wide = big | ~placed
        rest = np.flatnonzero(wide)
        rows = np.flatnonzero(~wide)
        qx0, qy0, qx1, qy1 = qx0[rows], qy0[rows], qx1[rows], qy1[rows]
        boxes: list[IntArray] = []
        features: list[IntArray] = []
        for level in self.levels:
            b, f = self._query_level(level, qx0, qy0, qx1, qy1)
            boxes.append(rows[b])
            features.append(f)
        return np.concatenate(boxes), np.concatenate(features), rest

    def query_one(self, x0: float, y0: float, x1: float, y1: float) -> IntArray | None:
        """Features whose boxes meet one small search box, each once; ``None``
        when :meth:`query` would leave the box out (too large for the grid, or not placed).

        The same answer as :meth:`query` for one box, with a few array operations per level
        instead of two dozen: a single check over HTTP spends most of its time here.
        """
        found = self.query_one_list(x0, y0, x1, y1)
        return None if found is None else np.array(found, dtype=np.intp)

    def query_one_list(self, x0: float, y0: float, x1: float, y1: float) -> list[int] | None:
        """:meth:`query_one` as a list (for a caller that reads the features one by one)."""
        if not self.levels:
            return []
        if not (math.isfinite(x0) and math.isfinite(y0) and math.isfinite(x1)
                and math.isfinite(y1)):  # fmt: skip
            return None
        span = (_MAX_SPAN - 1) * self.levels[0].cell
        if x1 - x0 > span or y1 - y0 > span:
            return None
        found: list[int] = []
        cells = 0
        ox, oy = self.x0, self.y0
        for level in self.levels:
            cell = level.cell
            # the cells as _cells finds them (the same float arithmetic)
            kx0, kx1 = math.floor((x0 - ox) / cell), math.floor((x1 - ox) / cell)
            ky0, ky1 = math.floor((y0 - oy) / cell), math.floor((y1 - oy) / cell)
            keys = [_key_of(kx, ky) for kx in range(kx0, kx1 + 1) for ky in range(ky0, ky1 + 1)]
            level_keys = level.keys
            last = len(level_keys) - 1
            for p, key in zip(np.searchsorted(level_keys, keys).tolist(), keys, strict=True):
                p = min(p, last)  # noqa: PLW2901
                if level_keys[p] == key:
                    start = int(level.starts[p])
                    found.extend(level.features[start : start + int(level.counts[p])].tolist())
                    cells += 1
        if not found:
            return found
        # a feature is listed once per cell it meets: one cell's list holds no repeats
        feats = found if cells == 1 else sorted(set(found))
        boxes = self.bounds[feats].tolist()
        return [f for f, (bx0, by0, bx1, by1) in zip(feats, boxes, strict=True)
                if bx0 <= x1 and bx1 >= x0 and by0 <= y1 and by1 >= y0]  # fmt: skip

    def _query_level(
        self, level: _Level, qx0: FloatArray, qy0: FloatArray, qx1: FloatArray, qy1: FloatArray
    ) -> tuple[IntArray, IntArray]:
        cell = level.cell
        kx0, kx1 = _cells(qx0, self.x0, cell), _cells(qx1, self.x0, cell)
        ky0, ky1 = _cells(qy0, self.y0, cell), _cells(qy1, self.y0, cell)
        sy = ky1 - ky0 + 1
        spans = (kx1 - kx0 + 1) * sy  # cells each search box touches
        q = np.repeat(np.arange(len(qx0)), spans)
        nth = np.arange(len(q)) - np.repeat(np.cumsum(spans) - spans, spans)
        key = _key(kx0[q] + nth // sy[q], ky0[q] + nth % sy[q])
        pos = np.minimum(np.searchsorted(level.keys, key), len(level.keys) - 1)
        hit = np.flatnonzero(level.keys[pos] == key)
        q, key, pos = q[hit], key[hit], pos[hit]
        counts = level.counts[pos].astype(np.intp)
        first = np.cumsum(counts) - counts
        entry = np.repeat(np.arange(len(q)), counts)
        at = np.repeat(level.starts[pos] - first, counts) + np.arange(int(counts.sum()))
        q, key = q[entry], key[entry]
        feats = level.features[at]
        fb = self.bounds[feats]
        fx0, fy0 = fb[:, 0], fb[:, 1]
        ax0, ay0 = qx0[q], qy0[q]
        meets = np.flatnonzero(
            (fx0 <= qx1[q]) & (fb[:, 2] >= ax0) & (fy0 <= qy1[q]) & (fb[:, 3] >= ay0)
        )
        # a pair met in several cells counts once: in the cell holding the lower-left corner
        # of the two boxes' intersection
        corner = _key(_cells(np.maximum(ax0[meets], fx0[meets]), self.x0, cell),
                      _cells(np.maximum(ay0[meets], fy0[meets]), self.y0, cell))  # fmt: skip
        keep = meets[corner == key[meets]]
        return q[keep].astype(np.intp), feats[keep].astype(np.intp)


def _cells(v: FloatArray, origin: float, cell: float) -> npt.NDArray[np.int64]:
    cells: npt.NDArray[np.int64] = np.floor((v - origin) / cell).astype(np.int64)
    return cells


def _key_of(kx: int, ky: int) -> int:
    """:func:`_key` of one cell."""
    return (min(max(kx, -_KEY_OFFSET), _KEY_OFFSET) + _KEY_OFFSET) * _KEY_STRIDE + (
        min(max(ky, -_KEY_OFFSET), _KEY_OFFSET) + _KEY_OFFSET
    )


def _key(kx: npt.NDArray[np.int64], ky: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    keys: npt.NDArray[np.int64] = (
        np.clip(kx, -_KEY_OFFSET, _KEY_OFFSET) + _KEY_OFFSET
    ) * _KEY_STRIDE + (np.clip(ky, -_KEY_OFFSET, _KEY_OFFSET) + _KEY_OFFSET)
    return keys


class IdColumn(Sequence[uuid.UUID]):
    """Feature ids as 16-byte rows; :class:`uuid.UUID` objects are built only when read."""

    __slots__ = ("raw",)

    def __init__(self, raw: npt.NDArray[np.uint8]) -> None:
        self.raw = raw

    @classmethod
    def of(cls, ids: Iterable[uuid.UUID]) -> IdColumn:
        return cls.of_bytes(b"".join(u.bytes for u in ids))

    @classmethod
    def of_bytes(cls, raw: bytes) -> IdColumn:
        return cls(np.frombuffer(raw, dtype=np.uint8).reshape(-1, 16))

    def __len__(self) -> int:
        return len(self.raw)

    @overload
    def __getitem__(self, i: int) -> uuid.UUID: ...
    @overload
    def __getitem__(self, i: slice) -> list[uuid.UUID]: ...
    def __getitem__(self, i: int | slice) -> uuid.UUID | list[uuid.UUID]:
        if isinstance(i, slice):
            return _uuids(self.raw[i])
        return uuid.UUID(bytes=self.raw[i].tobytes())

    def take(self, features: IntArray) -> list[uuid.UUID]:
        """The ids of ``features`` (each distinct one built once)."""
        distinct, inverse = np.unique(features, return_inverse=True)
        made = _uuids(self.raw[distinct])
        return [made[k] for k in inverse.tolist()]

    def take_text(self, features: IntArray) -> list[str]:
        """The ids of ``features`` as canonical text, ``str(UUID)``, made in bulk (for
        answers encoded as JSON, which carry the text)."""
        return uuid_texts(self.raw[features])


_HALVES = np.dtype(">u8")
_new_object = object.__new__
_set_slot = object.__setattr__


def _uuids(rows: npt.NDArray[np.uint8]) -> list[uuid.UUID]:
    """:class:`uuid.UUID` objects of 16-byte rows, the same as ``UUID(bytes=row)`` but without
    its argument checks (a batch answer builds thousands; the checks were a tenth of it)."""
    halves = np.ascontiguousarray(rows).view(_HALVES).reshape(-1, 2).tolist()
    made = []
    unknown = uuid.SafeUUID.unknown
    for hi, lo in halves:
        u = _new_object(uuid.UUID)
        _set_slot(u, "int", hi << 64 | lo)
        _set_slot(u, "is_safe", unknown)
        made.append(u)
    return made


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
#: where each of the 32 hex digits goes in the 36 characters of a UUID's canonical text
_DIGIT_AT = np.array([k + (k >= 8) + (k >= 12) + (k >= 16) + (k >= 20) for k in range(32)])
_HIGH_AT, _LOW_AT = _DIGIT_AT[0::2], _DIGIT_AT[1::2]


def uuid_texts(rows: npt.NDArray[np.uint8]) -> list[str]:
    """``str(UUID(bytes=row))`` of 16-byte rows (lower-case 8-4-4-4-12), in array operations:
    a batch answer carries thousands of ids, and one UUID object each cost more than the
    rest of its hit. The texts are written as ASCII, one after another with a comma after
    each, and split into strings in one call (16,000 ids: 2.4 ms; as a NumPy string array
    turned into a list 4.6 ms)."""
    rows = np.ascontiguousarray(rows, dtype=np.uint8).reshape(-1, 16)
    text = np.full((len(rows), 37), ord("-"), dtype=np.uint8)
    text[:, _HIGH_AT] = _HEX[rows >> 4]
    text[:, _LOW_AT] = _HEX[rows & 15]
    text[:, 36] = ord(",")
    return text.tobytes().decode("ascii").split(",")[:-1]


class CodeColumn(Sequence[str | None]):
    """A value per feature from a few distinct ones (land classes): small codes and a table."""

    __slots__ = ("_pending", "_table", "codes", "values")

    def __init__(self, values: Iterable[str | None] = ()) -> None:
        self._table: dict[str | None, int] = {}
        self._pending = array.array("i")
        self.extend(values)

    def extend(self, values: Iterable[str | None]) -> None:
        table = self._table
        self._pending.extend(table.setdefault(v, len(table)) for v in values)
        dtype = np.uint8 if len(table) <= 256 else np.int32
        self.codes = np.frombuffer(self._pending, dtype=np.int32).astype(dtype)
        self.values = tuple(table)

    def seal(self) -> None:
        """Drop what :meth:`extend` needs (no more values to come)."""
        self._pending = array.array("i")
        self._table = {}

    def __len__(self) -> int:
        return len(self.codes)

    @overload
    def __getitem__(self, i: int) -> str | None: ...
    @overload
    def __getitem__(self, i: slice) -> list[str | None]: ...
    def __getitem__(self, i: int | slice) -> str | list[str | None] | None:
        if isinstance(i, slice):
            return [self.values[c] for c in self.codes[i].tolist()]
        return self.values[int(self.codes[i])]

    def take(self, features: IntArray) -> list[str | None]:
        values = self.values
        return [values[c] for c in self.codes[features].tolist()]


#: Decoded attribute dicts an :class:`AttrColumn` keeps for reuse (then starts afresh).
_DECODED_KEPT = 4096


class AttrColumn(Sequence[dict[str, Any]]):
    """Per-feature attribute dicts, each distinct one pickled once into a single blob; a dict
    is decoded when read, and the last few thousand decoded are shared (do not mutate)."""

    __slots__ = ("_pending", "_recent", "_table", "blob", "offsets", "which")

    def __init__(self, values: Iterable[dict[str, Any]] = ()) -> None:
        self._recent: dict[int, dict[str, Any]] = {}  # decoded lately (shared, bounded)
        self._table: dict[bytes, int] = {}
        self._pending = array.array("i")
        self.extend(values)

    def extend(self, values: Iterable[dict[str, Any]]) -> None:
        table = self._table
        self._pending.extend(
            table.setdefault(pickle.dumps(v, protocol=5), len(table)) for v in values
        )
        self.which = np.frombuffer(self._pending, dtype=np.int32).copy()
        sizes = np.array([len(b) for b in table], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.blob = b"".join(table)

    def seal(self) -> None:
        """Drop what :meth:`extend` needs (no more values to come)."""
        self._pending = array.array("i")
        self._table = {}

    @property
    def nbytes(self) -> int:
        return self.which.nbytes + self.offsets.nbytes + len(self.blob)

    def __len__(self) -> int:
        return len(self.which)

    def _decode(self, k: int) -> dict[str, Any]:
        cached = self._recent.get(k)
        if cached is not None:
            return cached
        a, b = int(self.offsets[k]), int(self.offsets[k + 1])
        out: dict[str, Any] = pickle.loads(self.blob[a:b])  # noqa: S301 - encoded above
        if len(self._recent) >= _DECODED_KEPT:
            self._recent.clear()
        self._recent[k] = out
        return out

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return [self._decode(k) for k in self.which[i].tolist()]
        return self._decode(int(self.which[i]))

    def take(self, features: IntArray) -> list[dict[str, Any]]:
        """The attributes of ``features``, each distinct dict decoded once and shared."""
        distinct, inverse = np.unique(self.which[features], return_inverse=True)
        made = [self._decode(k) for k in distinct.tolist()]
        return [made[k] for k in inverse.tolist()]


#: Bytes counted per GEOS geometry kept (object headers, coordinate sequence, Python wrapper)
#: on top of 16 per vertex: measured on small polygons with Shapely 2 / GEOS 3.12.
_GEOS_OVERHEAD = 400


@dataclass(slots=True)
class LayerSnapshot:
    """One layer version, projected, as flat arrays (no Python object per simple feature).

    Simple features (at most :data:`MAX_SEGMENTS` edges, the most of a parcel layer) live in
    :class:`Segments` and :class:`BoxGrid` only; the others (``complex``: feature index to
    geometry and boundary) keep their GEOS geometries, which measure them. Ids, land classes
    and attributes are compact columns whose items are built when read. ``nbytes`` is what
    the snapshot holds: its arrays, and the GEOS geometries counted by their vertices.
    """

    kind: LayerKind
    version_id: uuid.UUID
    version_no: int
    ids: IdColumn
    areal: npt.NDArray[np.bool_]
    land_class: CodeColumn
    attributes: AttrColumn
    segments: Segments
    grid: BoxGrid
    complex: dict[int, tuple[shapely.Geometry, shapely.Geometry | None]]
    nbytes: int = 0
    #: the complex features' geometries and boundaries by feature index (None elsewhere), for
    #: vectorised GEOS calls; only made for a layer that has complex features
    geoms: npt.NDArray[np.object_] | None = field(init=False, default=None)
    boundaries: npt.NDArray[np.object_] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.complex:
            n = len(self.areal)
            self.geoms = np.full(n, None, dtype=object)
            self.boundaries = np.full(n, None, dtype=object)
            at = np.fromiter(self.complex, dtype=np.intp, count=len(self.complex))
            self.geoms[at] = [g for g, _ in self.complex.values()]
            self.boundaries[at] = [b for _, b in self.complex.values()]
        vertices = sum(
            int(shapely.get_num_coordinates(g)) + (int(shapely.get_num_coordinates(b)) if b else 0)
            for g, b in self.complex.values()
        )
        self.nbytes = (
            self.ids.raw.nbytes + self.areal.nbytes + self.land_class.codes.nbytes
            + self.attributes.nbytes + self.segments.nbytes + self.grid.nbytes
            + 16 * vertices + 2 * _GEOS_OVERHEAD * len(self.complex)
            + (2 * 8 * len(self.areal) if self.complex else 0)
        )  # fmt: skip

    def __len__(self) -> int:
        return len(self.ids)

    def geometries(self, features: IntArray) -> npt.NDArray[np.object_]:
        """The (projected) geometries of ``features``, built again for simple ones."""
        out = np.empty(len(features), dtype=object)
        for k, f in enumerate(features.tolist()):
            kept = self.complex.get(f)
            out[k] = kept[0] if kept else self.segments.geometry(f, bool(self.areal[f]))
        return out

    def intersecting(self, geom: shapely.Geometry) -> IntArray:
        """Sorted indices of the features that intersect ``geom``."""
        x0, y0, x1, y1 = shapely.bounds(geom).tolist()
        idx = self.grid.query_box(x0, y0, x1, y1)
        hit = shapely.intersects(self.geometries(idx), geom)
        out: IntArray = idx[hit].astype(np.intp)
        return out


@dataclass(slots=True)
class _Chunk:
    """A run of a layer's features, projected and reduced to arrays."""

    bounds: FloatArray
    areal: npt.NDArray[np.bool_]
    segments: Segments
    complex: dict[int, tuple[shapely.Geometry, shapely.Geometry | None]]

    @classmethod
    def of(cls, geoms: npt.NDArray[np.object_], offset: int) -> _Chunk:
        areal = np.isin(shapely.get_type_id(geoms), (3, 6))
        boundaries: npt.NDArray[np.object_] = np.empty(len(geoms), dtype=object)
        boundaries[areal] = shapely.boundary(geoms[areal])
        segments = Segments.of(geoms, boundaries, areal)
        rest = np.flatnonzero(~segments.simple)
        kept = {offset + int(k): (geoms[k], boundaries[k]) for k in rest.tolist()}
        bounds = shapely.bounds(geoms) if len(geoms) else np.empty((0, 4))
        return cls(bounds, areal, segments.keep_simple(), kept)


def build_layer(
    kind: LayerKind,
    version: tuple[uuid.UUID, int],
    ids: Sequence[uuid.UUID] | IdColumn,
    geoms: npt.NDArray[np.object_] | list[_Chunk],
    *,
    land_class: Sequence[str | None] | CodeColumn,
    attributes: Sequence[dict[str, Any]] | AttrColumn,
) -> LayerSnapshot:
    """A snapshot of projected geometries (or of runs of them already reduced to arrays)."""
    chunks = geoms if isinstance(geoms, list) else [_Chunk.of(geoms, 0)]
    complex_: dict[int, tuple[shapely.Geometry, shapely.Geometry | None]] = {}
    for chunk in chunks:
        complex_.update(chunk.complex)
    bounds = np.concatenate([c.bounds for c in chunks]) if chunks else np.empty((0, 4))
    areal = np.concatenate([c.areal for c in chunks]) if chunks else np.array([], bool)
    runs = [c.segments for c in chunks]
    chunks.clear()  # each run's edges are freed as they are copied, before the grid is built
    segments = Segments.concat(runs) if runs else Segments.of(
        np.array([], object), np.array([], object), np.array([], bool))  # fmt: skip
    return LayerSnapshot(
        kind=kind,
        version_id=version[0],
        version_no=version[1],
        ids=ids if isinstance(ids, IdColumn) else IdColumn.of(ids),
        areal=areal,
        land_class=land_class if isinstance(land_class, CodeColumn) else CodeColumn(land_class),
        attributes=attributes if isinstance(attributes, AttrColumn) else AttrColumn(attributes),
        segments=segments,
        grid=BoxGrid.of_bounds(bounds),
        complex=complex_,
    )


@dataclass(slots=True)
class CountyIndex:
    """A county's current layers, projected and indexed.

    ``resident`` is false for a county the index does not hold (its layers would not fit the
    memory budget, or another task is loading them): ``layers`` is then empty and checks are
    answered by PostGIS; the projection, grown area and versions are still those of the
    county.
    """

    county_id: uuid.UUID
    projection: LocalProjection
    area: PreparedGeometry  # the boundary grown by OUTSIDE_MARGIN_M, projected
    layers: dict[LayerKind, LayerSnapshot]
    versions: dict[LayerKind, tuple[uuid.UUID, int]]
    checked_at: float
    resident: bool = True

    @property
    def nbytes(self) -> int:
        return sum(layer.nbytes for layer in self.layers.values())


def attribute_columns(kind: LayerKind) -> tuple[Any, list[Any]]:
    """The model a layer kind's features are read from, and its attribute columns."""
    if kind is LayerKind.PARCELS:
        return Parcel, [Parcel.land_class, Parcel.source_code, Parcel.source_name]
    if kind is LayerKind.PLANNING_ZONES:
        return PlanningZone, [PlanningZone.zone_kind, PlanningZone.code, PlanningZone.name]
    if kind is LayerKind.CHANGE_POLYGONS:
        cp = ChangePolygon
        return cp, [cp.monitoring_no, cp.batch_year, cp.batch_quarter, cp.monitored_areas]
    ms = MineSiteRevision  # the register as of the version (see _load_layer)
    return ms, [ms.code, ms.name, ms.site_kind, ms.status, ms.mineral, ms.closure_method]


def feature_attributes(kind: LayerKind, row: Any) -> tuple[str | None, dict[str, Any]]:
    """Land class and attributes of a row ``(id, geometry, *attribute_columns)``."""
    if kind is LayerKind.PARCELS:
        return row[2], {"source_code": row[3], "source_name": row[4]}
    if kind is LayerKind.PLANNING_ZONES:
        return None, {"zone_kind": row[2], "code": row[3], "name": row[4]}
    if kind is LayerKind.CHANGE_POLYGONS:
        return None, {
            "monitoring_no": row[2],
            "batch_year": row[3],
            "batch_quarter": row[4],
            "monitored_areas": row[5],
        }
    keys = ("code", "name", "site_kind", "status", "mineral", "closure_method")
    return None, dict(zip(keys, row[2:], strict=True))


async def _load_layer(
    session: AsyncSession,
    county_id: uuid.UUID,
    kind: LayerKind,
    version: tuple[uuid.UUID, int],
    projection: LocalProjection,
) -> LayerSnapshot:
    model, columns = attribute_columns(kind)
    stmt: Select[Any]
    if kind is LayerKind.MINE_SITES:
        # exactly the register of the version the snapshot is named after (the live rows
        # could already hold a change committed since the version was looked up)
        stmt = select(model.site_id, func.ST_AsBinary(model.geom), *columns).where(
            register_as_of(county_id, version[1])
        )
    else:
        stmt = select(model.id, func.ST_AsBinary(model.geom), *columns).where(
            model.layer_version_id == version[0]
        )
    ids: list[bytes] = []
    classes = CodeColumn()
    attributes = AttrColumn()
    chunks: list[_Chunk] = []
    done = 0
    # read and reduced a run at a time: the GEOS geometries (and Python objects) of a whole
    # county at once would take several times the memory the snapshot ends up holding
    result = await session.stream(stmt.execution_options(yield_per=_LOAD_CHUNK))
    async for rows in result.partitions(_LOAD_CHUNK):
        wkb = np.array([bytes(r[1]) for r in rows], dtype=object)
        geoms = projection.project_geoms(shapely.from_wkb(wkb))
        del wkb
        chunks.append(_Chunk.of(geoms, done))
        del geoms
        done += len(rows)
        ids.append(b"".join(r[0].bytes for r in rows))
        parsed = [feature_attributes(kind, row) for row in rows]
        classes.extend(land for land, _ in parsed)
        attributes.extend(attrs for _, attrs in parsed)
    classes.seal()
    attributes.seal()
    return build_layer(kind, version, IdColumn.of_bytes(b"".join(ids)), chunks,
                       land_class=classes, attributes=attributes)  # fmt: skip


async def _county_area(
    session: AsyncSession, county_id: uuid.UUID
) -> tuple[shapely.Geometry, tuple[float, float]]:
    row = (
        await session.execute(
            text(
                "SELECT ST_AsBinary(boundary), ST_X(ST_Centroid(boundary)), "
                "ST_Y(ST_Centroid(boundary)) FROM counties WHERE id = :id"
            ),
            {"id": county_id},
        )
    ).first()
    if row is None:
        raise CountyNotFoundError("county not found", id=str(county_id))
    boundary = shapely.from_wkb(bytes(row[0]))
    return boundary, (float(row[1]), float(row[2]))


@dataclass(frozen=True, slots=True)
class _CountyShape:
    """What the index keeps of a county's boundary, read once (boundaries are fixed)."""

    projection: LocalProjection
    area: PreparedGeometry  # the boundary grown by OUTSIDE_MARGIN_M, projected
    boundary: shapely.Geometry  # as stored, in lon/lat (WGS84), prepared


@dataclass(frozen=True, slots=True)
class IndexSize:
    """What the index holds of one layer kind: in how many counties, features, and about
    how many bytes (:attr:`LayerSnapshot.nbytes`)."""

    kind: LayerKind
    counties: int
    features: int
    nbytes: int


_log = structlog.get_logger(__name__)

#: A held county's versions are read again in the background once this share of
#: ``max_age_s`` has passed (:meth:`GeofenceIndex.held_fresh`).
_RENEW_AT = 0.5


class GeofenceIndex:
    """A process-wide cache of :class:`CountyIndex` objects (one per county).

    It also counts the location checks answered from it: ``checks`` (a batch is one) and
    ``checked_fixes`` (the fixes in them).

    With a memory budget (``budget_bytes``; 0 holds every county) it holds the counties most
    recently used whose layers fit in it (by :attr:`LayerSnapshot.nbytes`): before a county
    is loaded the least recently used ones are evicted to make room for three times its last
    known size (what a load takes for a moment; a county never loaded is expected to take
    the mean of those loaded), and after it is loaded until the held layers fit again;
    a county larger than the whole budget is not held. Checks that pass ``wait=False`` get
    a non-resident :class:`CountyIndex` for a county that is not held and would not fit, or
    that another task is loading just then, and answer from PostGIS (:mod:`geofence.check`).
    Evicted counties are counted in ``evictions``, checks answered by PostGIS in ``fallbacks``.

    Each county's boundary is read once and kept whatever the budget (one geometry: its
    projection and grown area, and the boundary itself in lon/lat, prepared), so whether it
    covers a point (:meth:`covers`) is answered without the database.
    """

    def __init__(self, *, max_age_s: float = 1.0, budget_bytes: int = 0) -> None:
        self.max_age_s = max_age_s
        self.budget_bytes = budget_bytes
        self._counties: OrderedDict[uuid.UUID, CountyIndex] = OrderedDict()  # oldest first
        self._shapes: dict[uuid.UUID, _CountyShape] = {}  # boundaries are fixed
        #: per county: the versions last loaded and their size, to make room before a load
        self._loaded: dict[uuid.UUID, tuple[dict[LayerKind, tuple[uuid.UUID, int]], int]] = {}
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}
        self.checks = 0
        self.checked_fixes = 0
        self.evictions = 0
        self.fallbacks = 0
        self.renewals = 0  # versions read again before they were due (held_fresh)
        self._sessions: Callable[[], AsyncSession] | None = None
        self._sessions_loop: asyncio.AbstractEventLoop | None = None
        self._renewing: dict[uuid.UUID, asyncio.Task[None]] = {}

    def configure(self, *, budget_bytes: int) -> None:
        """Set the memory budget (0: unbounded), evicting counties that no longer fit."""
        self.budget_bytes = max(0, budget_bytes)
        self._evict(0, keep=None)

    def renew_with(self, sessions: Callable[[], AsyncSession] | None) -> None:
        """Read held counties' versions again before they are due with ``sessions``, whose
        connections belong to the running event loop: renewals start only on that loop
        (``None``: only when a check finds them due). Call it on the app's loop."""
        self._sessions = sessions
        self._sessions_loop = asyncio.get_running_loop() if sessions is not None else None

    def stop_renewing(self, sessions: Callable[[], AsyncSession]) -> None:
        """No more renewals with ``sessions`` (an app shutting down); others are kept."""
        if self._sessions is sessions:
            self.renew_with(None)

    def held_fresh(self, county_id: uuid.UUID) -> CountyIndex | None:
        """The county's index when this process holds it and it is fresh: what a check can be
        answered from without the database (``None``: :meth:`county` is the way).

        Past half its age a county's versions are read again in the background (with the
        sessions of :meth:`renew_with`), so the checks that follow keep being answered from
        memory instead of all going the database's way, at once, the moment it is due.
        """
        now = time.monotonic()
        fresh = self._fresh(county_id, False, now)
        if fresh is None or not fresh.resident:
            return None
        if self._sessions is not None and now - fresh.checked_at >= self.max_age_s * _RENEW_AT:
            self._start_renewal(county_id, self._sessions)
        return fresh

    def _start_renewal(self, county_id: uuid.UUID, sessions: Callable[[], AsyncSession]) -> None:
        """One renewal per county at a time, on the sessions' event loop (none from a thread
        or another loop: the checks' own way reads the county when it is due)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if loop is not self._sessions_loop:  # the sessions' connections live on their loop
            return
        running = self._renewing.get(county_id)
        if running is not None and not running.done() and running.get_loop() is loop:
            return
        self._renewing[county_id] = loop.create_task(self._renew(county_id, sessions))

    async def _renew(self, county_id: uuid.UUID, sessions: Callable[[], AsyncSession]) -> None:
        """Read a held county's versions again (and load what changed), as :meth:`county`
        does once they are due; a failure leaves that to the next check past ``max_age_s``."""
        try:
            async with sessions() as session, self._locks.setdefault(county_id, asyncio.Lock()):
                cached = self._counties.get(county_id)
                if cached is None or time.monotonic() - cached.checked_at < (
                    self.max_age_s * _RENEW_AT
                ):
                    return  # evicted, or read again by a check meanwhile
                entry = await self._refresh(session, county_id, cached)
                self._loaded[county_id] = (entry.versions, entry.nbytes)
                self._hold(entry)
                self.renewals += 1
                if entry.versions != cached.versions:
                    release_free_memory()  # the load's temporary geometries
        except Exception:  # the checks' own way reads them when due
            _log.warning("geofence.renew_failed", county_id=str(county_id), exc_info=True)
        finally:
            self._renewing.pop(county_id, None)

    def count_check(self, fixes: int) -> None:
        self.checks += 1
        self.checked_fixes += fixes

    @property
    def held_bytes(self) -> int:
        """Approximate bytes of the layers held, over all counties."""
        return sum(entry.nbytes for entry in list(self._counties.values()))

    def held(self) -> list[uuid.UUID]:
        """The counties held, least recently used first."""
        return list(self._counties)

    def sizes(self) -> list[IndexSize]:
        """Per layer kind held for any county: counties, features and approximate bytes."""
        totals: dict[LayerKind, list[int]] = {}
        for entry in list(self._counties.values()):
            for kind, layer in list(entry.layers.items()):
                total = totals.setdefault(kind, [0, 0, 0])
                total[0] += 1
                total[1] += len(layer)
                total[2] += layer.nbytes
        return [IndexSize(kind, *totals[kind]) for kind in sorted(totals)]

    def invalidate(self, county_id: uuid.UUID | None = None) -> None:
        """Make the next check re-read the current versions (of one county, or all)."""
        for cid, entry in self._counties.items():
            if county_id is None or cid == county_id:
                entry.checked_at = float("-inf")

    def _fresh(self, county_id: uuid.UUID, dirty: bool, now: float) -> CountyIndex | None:
        cached = self._counties.get(county_id)
        if cached is not None and not dirty and now - cached.checked_at < self.max_age_s:
            self._counties.move_to_end(county_id)
            return cached
        return None

    async def county(
        self, session: AsyncSession, county_id: uuid.UUID, *, wait: bool = True
    ) -> CountyIndex:
        """The index of the county's current layers, as seen by ``session``.

        With ``wait=False`` a county that is not held is answered by a non-resident index
        (no layers) when it would not fit the budget or another task is loading it.
        """
        dirty = county_id in session.info.get(DIRTY_KEY, ())
        now = time.monotonic()
        if (fresh := self._fresh(county_id, dirty, now)) is not None:
            return fresh
        lock = self._locks.setdefault(county_id, asyncio.Lock())
        unheld = not dirty and county_id not in self._counties
        if not wait and unheld and lock.locked():
            return await self._outline(session, county_id)
        async with lock:
            if (fresh := self._fresh(county_id, dirty, now)) is not None:
                return fresh
            cached = self._counties.get(county_id)
            if unheld and cached is None and self.budget_bytes:
                known = self._loaded.get(county_id)
                if not wait and known is not None and known[1] > self.budget_bytes:
                    outline = await self._outline(session, county_id)
                    if outline.versions == known[0]:
                        return outline
                # while it loads, a county takes about 2.5 times its final size (runs of
                # arrays and geometries, joined arrays, the grid being built)
                self._evict(_LOAD_ROOM * (known[1] if known else self._typical_size()), keep=None)
            entry = await self._refresh(session, county_id, cached)
            if not dirty:
                self._loaded[county_id] = (entry.versions, entry.nbytes)
                # (no gc.freeze here: a snapshot is arrays, nothing for the collector to walk,
                # and freezing would keep whatever cyclic garbage requests hold just then)
                self._hold(entry)
            if entry.versions != (cached.versions if cached else None):
                release_free_memory()  # the load's temporary geometries
            return entry

    def _typical_size(self) -> int:
        """What a county not loaded before is expected to take: the mean of those loaded."""
        sizes = [size for _, size in list(self._loaded.values())]
        return sum(sizes) // len(sizes) if sizes else 0

    def _hold(self, entry: CountyIndex) -> None:
        if self.budget_bytes and entry.nbytes > self.budget_bytes:
            if self._counties.pop(entry.county_id, None) is not None:
                self.evictions += 1
            return
        self._counties[entry.county_id] = entry
        self._counties.move_to_end(entry.county_id)
        self._evict(0, keep=entry.county_id)

    def _evict(self, room: int, *, keep: uuid.UUID | None) -> None:
        """Drop least recently used counties (never ``keep``) until ``room`` more bytes fit."""
        if not self.budget_bytes:
            return
        held = self.held_bytes
        evicted = False
        for cid in list(self._counties):
            if held + room <= self.budget_bytes:
                break
            if cid == keep:
                continue
            held -= self._counties.pop(cid).nbytes
            self.evictions += 1
            evicted = True
        if evicted:
            release_free_memory()

    async def covers(
        self, session: AsyncSession, county_id: uuid.UUID, lon: float, lat: float
    ) -> bool:
        """Whether the county's boundary covers the point (lon, lat WGS84): in it or on its
        edge, the planar predicate of PostGIS ``ST_Covers`` on the geometry (SRID 4326).

        Answered from the boundary this index keeps per county (read from the database
        once, with the grown area); a position that is not a finite number is not covered,
        as in PostGIS. Raises :class:`CountyNotFoundError`.
        """
        shape = await self._shape(session, county_id)
        if not (math.isfinite(lon) and math.isfinite(lat)):
            return False
        return bool(shapely.covers(shape.boundary, shapely.Point(lon, lat)))

    async def _shape(self, session: AsyncSession, county_id: uuid.UUID) -> _CountyShape:
        known = self._shapes.get(county_id)
        if known is not None:
            return known
        boundary, (lon0, lat0) = await _county_area(session, county_id)
        projection = local_projection(lon0, lat0)
        grown = projection.project_geoms(np.array([boundary], dtype=object))[0]
        area = prep(grown.buffer(OUTSIDE_MARGIN_M, quad_segs=4))
        shapely.prepare(boundary)
        # GEOS builds a prepared polygon's point locator on its first use, and batches
        # use this one from several threads at once: a chunked batch once hung with a
        # thread waiting inside that first use. Build it here, on one thread, with a
        # point inside the envelope (outside it GEOS answers from the envelope alone);
        # the same for the boundary in lon/lat.
        x0, y0, x1, y1 = area.context.bounds
        shapely.contains_xy(area.context, (x0 + x1) / 2, (y0 + y1) / 2)
        x0, y0, x1, y1 = boundary.bounds
        shapely.covers(boundary, shapely.Point((x0 + x1) / 2, (y0 + y1) / 2))
        shape = _CountyShape(projection, area, boundary)
        self._shapes[county_id] = shape
        return shape

    async def _outline(self, session: AsyncSession, county_id: uuid.UUID) -> CountyIndex:
        """A non-resident index: the county's projection, area and current versions."""
        versions = await current_versions(session, county_id)
        shape = await self._shape(session, county_id)
        return CountyIndex(
            county_id, shape.projection, shape.area, {}, versions, time.monotonic(), resident=False
        )

    async def _refresh(
        self, session: AsyncSession, county_id: uuid.UUID, cached: CountyIndex | None
    ) -> CountyIndex:
        versions = await current_versions(session, county_id)
        shape = await self._shape(session, county_id)
        layers = dict(cached.layers) if cached is not None else {}
        for kind, version in versions.items():
            have = layers.get(kind)
            if have is None or have.version_id != version[0]:
                layers[kind] = await _load_layer(
                    session, county_id, kind, version, shape.projection
                )
        for kind in set(layers) - set(versions):
            del layers[kind]
        return CountyIndex(
            county_id, shape.projection, shape.area, layers, versions, time.monotonic()
        )


DEFAULT_INDEX = GeofenceIndex()
