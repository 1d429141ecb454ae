"""Pushed operations as the domain sees them (the API maps the wire Structs to these)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from patrol.tracks import PointIn

__all__ = [
    "EndPatrol",
    "EvidenceNotes",
    "FindingChanges",
    "Operation",
    "RecordDutyCheck",
    "RecordFinding",
    "SignIn",
    "StartPatrol",
    "TrackPoints",
    "Undecodable",
    "UpdateEvidence",
    "UpdateFinding",
]


@dataclass(frozen=True, slots=True)
class StartPatrol:
    op_id: uuid.UUID
    patrol_id: uuid.UUID
    area_id: uuid.UUID
    started_at: datetime
    companion_ids: tuple[uuid.UUID, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class EndPatrol:
    op_id: uuid.UUID
    patrol_id: uuid.UUID
    ended_at: datetime
    note: str | None = None


@dataclass(frozen=True, slots=True)
class TrackPoints:
    op_id: uuid.UUID
    patrol_id: uuid.UUID
    points: tuple[PointIn, ...]


@dataclass(frozen=True, slots=True)
class SignIn:
    op_id: uuid.UUID
    patrol_id: uuid.UUID
    sign_in_id: uuid.UUID
    at: datetime
    method: str = "gps"
    lon: float | None = None
    lat: float | None = None
    accuracy_m: float | None = None
    reason_code: str | None = None
    village_id: uuid.UUID | None = None
    address: str = ""


@dataclass(frozen=True, slots=True)
class RecordFinding:
    op_id: uuid.UUID
    patrol_id: uuid.UUID
    finding_id: uuid.UUID
    found_at: datetime
    project_name: str
    construction_status: str
    lon: float
    lat: float
    accuracy_m: float | None = None
    builder: str = ""
    construction_started_on: date | None = None
    occupied_area_m2: float | None = None
    township_id: uuid.UUID | None = None
    village_id: uuid.UUID | None = None
    note: str = ""
    outline: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class FindingChanges:
    """Editable fields of a finding; ``None`` means "not part of this edit"."""

    project_name: str | None = None
    builder: str | None = None
    construction_started_on: date | None = None
    construction_status: str | None = None
    occupied_area_m2: float | None = None
    note: str | None = None

    def given(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) is not None}


@dataclass(frozen=True, slots=True)
class UpdateFinding:
    """Edit a finding the phone last saw at ``base_version``.

    ``base`` holds the phone's values of the edited fields before the edit; with it a
    concurrent edit of *other* fields merges, and only fields changed on both sides conflict.
    """

    op_id: uuid.UUID
    finding_id: uuid.UUID
    base_version: int
    changes: FindingChanges
    base: FindingChanges | None = None


@dataclass(frozen=True, slots=True)
class RecordDutyCheck:
    op_id: uuid.UUID
    check_id: uuid.UUID
    site_id: uuid.UUID
    checked_at: datetime
    status: str
    member_id: uuid.UUID | None = None
    is_night: bool | None = None
    note: str = ""
    evidence_ids: tuple[uuid.UUID, ...] = ()


@dataclass(frozen=True, slots=True)
class EvidenceNotes:
    """Descriptive fields of evidence; ``None`` means "not part of this edit"."""

    caption: str | None = None
    proves: str | None = None
    view_type: str | None = None

    def given(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) is not None}


@dataclass(frozen=True, slots=True)
class UpdateEvidence:
    """Edit the caption, ``proves`` or view type of evidence last seen at ``base_version``
    (``None``: not known); ``base`` as for :class:`UpdateFinding`."""

    op_id: uuid.UUID
    evidence_id: uuid.UUID
    changes: EvidenceNotes
    base_version: int | None = None
    base: EvidenceNotes | None = None


Operation = (
    StartPatrol
    | EndPatrol
    | TrackPoints
    | SignIn
    | RecordFinding
    | UpdateFinding
    | RecordDutyCheck
    | UpdateEvidence
)


@dataclass(frozen=True, slots=True)
class Undecodable:
    """An operation the API could not read (unknown type, missing or invalid fields)."""

    op_id: uuid.UUID | None
    code: str
    reason: str
    #: the facts the catalogue's text for ``code`` names (the offending ``field``)
    params: dict[str, Any] = field(default_factory=dict)
