"""Ports the evidence services need from other packages, injected by the composition root.

* :class:`LocationChecker` — the location check at intake (geofence). Its answer is stored
  with the evidence as is, so it must be JSON-able and name the layer versions it used.
* :class:`PatrolContext` — the patrol track and area of a linked patrol (patrol).
* :class:`AcceptanceListener` — told about each accepted evidence in the same transaction,
  just before its row is written (for example the five-to-one rebound review of a
  closed-mine site).

:class:`NoLayersChecker` is the trivial checker (no reference layers): it answers "no
features", so evidence can be taken before any layer is imported, and does not know
whether a county covers a point (the service asks the database).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from evidence.models import Evidence

__all__ = [
    "AcceptanceListener",
    "LocationChecker",
    "NoLayersChecker",
    "PatrolContext",
    "TrackFix",
]


@runtime_checkable
class LocationChecker(Protocol):
    async def check(
        self,
        session: AsyncSession,
        county_id: uuid.UUID,
        lon: float,
        lat: float,
        accuracy_m: float,
    ) -> Mapping[str, Any]:
        """Every feature of every active layer within the accuracy circle of (lon, lat) WGS84.

        The answer is JSON-able and includes ``layer_versions`` (layer kind -> version) so
        the check can be reproduced later. Features that are closed-mine sites should carry
        ``"mine_site_id"`` so intake can flag evidence taken at one.
        """

    async def in_county(
        self, session: AsyncSession, county_id: uuid.UUID, lon: float, lat: float
    ) -> bool | None:
        """Whether the county's boundary covers the point (lon, lat WGS84): in it or on its
        edge, the same planar predicate as PostGIS ``ST_Covers`` on the boundary geometry;
        ``None`` when this checker does not know (the service then asks the database)."""


@dataclass(frozen=True, slots=True)
class TrackFix:
    """The patrol's own track position nearest to a moment."""

    lon: float
    lat: float
    accuracy_m: float
    at: datetime


@runtime_checkable
class PatrolContext(Protocol):
    async def track_fix_near(
        self,
        session: AsyncSession,
        county_id: uuid.UUID,
        patrol_session_id: uuid.UUID,
        at: datetime,
        *,
        window_s: float,
    ) -> TrackFix | None:
        """The track point of that patrol closest to ``at`` within ``window_s``, if any."""

    async def in_patrol_area(
        self,
        session: AsyncSession,
        county_id: uuid.UUID,
        patrol_session_id: uuid.UUID,
        *,
        lon: float,
        lat: float,
        accuracy_m: float,
    ) -> bool | None:
        """Whether the point lies in (or within ``accuracy_m`` of) the patrol's area;
        ``None`` when the patrol is not known (yet)."""


@runtime_checkable
class AcceptanceListener(Protocol):
    async def evidence_accepted(self, session: AsyncSession, evidence: Evidence) -> list[str]:
        """React to a newly accepted evidence; return extra flags to store with it.

        Called in the acceptance's transaction just before the evidence row, its custody
        entry and its derivatives job are written in one statement (the extra flags go into
        the row and the entry): ``evidence`` is complete but not yet in the database or the
        session, so a listener records what it raises by the evidence's id, never by a
        foreign key to the row or by reading it back."""


class NoLayersChecker:
    """A :class:`LocationChecker` for a county without reference layers: no features."""

    async def check(
        self,
        session: AsyncSession,  # noqa: ARG002 - no layers to query
        county_id: uuid.UUID,  # noqa: ARG002
        lon: float,
        lat: float,
        accuracy_m: float,
    ) -> Mapping[str, Any]:
        return {
            "lon": lon,
            "lat": lat,
            "accuracy_m": accuracy_m,
            "features": [],
            "layer_versions": {},
            "checker": "none",
        }

    async def in_county(
        self,
        session: AsyncSession,  # noqa: ARG002 - nothing kept to answer from
        county_id: uuid.UUID,  # noqa: ARG002
        lon: float,  # noqa: ARG002
        lat: float,  # noqa: ARG002
    ) -> bool | None:
        return None  # the service asks the database
