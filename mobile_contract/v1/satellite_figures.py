"""Figures and exports of a satellite campaign batch (卫片执法), for captains and admins.

Areas are in mu (1 mu = 666.67 m², 4 decimals). ``cultivatedRatio`` is the share of
illegally occupied cultivated land (耕地, permanent basic farmland included) in the
cultivated land occupied by new construction (legal + illegal); ``null`` when new
construction occupied none. ``overThreshold``: above ``ratioThreshold``.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date

import msgspec

__all__ = ["SatelliteExportFormat", "SatelliteFigureRow", "SatelliteFigures"]


class SatelliteExportFormat(enum.StrEnum):
    XLSX = "xlsx"  # the national table 遥感监测图斑核查情况一览表
    GEOJSON = "geojson"  # one feature per polygon with every attribute


class SatelliteFigureRow(msgspec.Struct, kw_only=True, rename="camel"):
    """One township's figures; ``townshipId`` null: the polygons in no township (or, with
    ``total``, the whole batch)."""

    township_id: uuid.UUID | None = None
    township_code: str = ""
    name: str = ""
    total: bool = False
    polygons: int
    polygon_area_mu: float
    verified: int  # a current field result that the review has not sent back
    overdue: int  # past due with no result, or sent back and not verified again
    by_status: dict[str, int]
    legal: int
    legal_area_mu: float
    not_new: int
    not_new_area_mu: float
    illegal: int
    illegal_area_mu: float
    illegal_cultivated_mu: float
    illegal_basic_farmland_mu: float
    legal_cultivated_mu: float
    new_construction_mu: float  # legal + illegal
    cultivated_ratio: float | None = None
    over_threshold: bool = False


class SatelliteFigures(msgspec.Struct, kw_only=True, rename="camel"):
    """A batch's figures on ``asOf`` (the county-local day overdue is counted on): per
    township by code, then the polygons in no township, and the total."""

    batch_id: uuid.UUID
    batch_name: str
    kind: str
    year: int
    quarter: int | None = None
    month: int | None = None
    verify_due_on: date
    report_due_on: date
    as_of: date
    ratio_threshold: float
    townships: list[SatelliteFigureRow]
    total: SatelliteFigureRow
