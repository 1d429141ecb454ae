"""Pushed operations as the domain sees them (the API maps the wire Structs to these).

Each operation is its client op id and the input of the domain action it asks for, the same
input REST builds (:mod:`patrol.sessions`, :mod:`patrol.tracks`, :mod:`patrol.findings`,
:mod:`patrol.duty`, :mod:`patrol.verification`, :mod:`evidence.cases.satellite_tasks`); only
evidence notes are described here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from evidence.cases.satellite_tasks import SatelliteResultInput
from patrol.duty import DutyCheckInput
from patrol.findings import FindingChanges, FindingEdit
from patrol.sessions import EndPatrolInput, FindingInput, SignInInput, StartPatrolInput
from patrol.tracks import TrackPointsInput
from patrol.verification import TargetVerificationInput

__all__ = [
    "EndPatrol",
    "EvidenceNotes",
    "FindingChanges",
    "Operation",
    "RecordDutyCheck",
    "RecordFinding",
    "RecordSatelliteResult",
    "RecordTargetVerification",
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
    input: StartPatrolInput


@dataclass(frozen=True, slots=True)
class EndPatrol:
    op_id: uuid.UUID
    input: EndPatrolInput


@dataclass(frozen=True, slots=True)
class TrackPoints:
    """``input.points`` are :class:`~patrol.tracks.PointIn` (their fields make the
    operation's hash)."""

    op_id: uuid.UUID
    input: TrackPointsInput


@dataclass(frozen=True, slots=True)
class SignIn:
    op_id: uuid.UUID
    input: SignInInput


@dataclass(frozen=True, slots=True)
class RecordFinding:
    op_id: uuid.UUID
    input: FindingInput


@dataclass(frozen=True, slots=True)
class UpdateFinding:
    """Edit a finding the phone last saw at ``input.base_version``; ``input.base`` holds
    the phone's values of the edited fields before the edit, so a concurrent edit of
    *other* fields merges and only fields changed on both sides conflict."""

    op_id: uuid.UUID
    input: FindingEdit


@dataclass(frozen=True, slots=True)
class RecordDutyCheck:
    op_id: uuid.UUID
    input: DutyCheckInput


@dataclass(frozen=True, slots=True)
class RecordTargetVerification:
    op_id: uuid.UUID
    input: TargetVerificationInput


@dataclass(frozen=True, slots=True)
class RecordSatelliteResult:
    """A satellite task's field result (:mod:`evidence.cases.satellite_tasks`)."""

    op_id: uuid.UUID
    input: SatelliteResultInput


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
    | RecordTargetVerification
    | RecordSatelliteResult
)


@dataclass(frozen=True, slots=True)
class Undecodable:
    """An operation the API could not read (unknown type, missing or invalid fields)."""

    op_id: uuid.UUID | None
    code: str
    reason: str
    #: the facts the catalogue's text for ``code`` names (the offending ``field``)
    params: dict[str, Any] = field(default_factory=dict)
