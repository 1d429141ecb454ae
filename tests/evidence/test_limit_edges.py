"""Upload declarations at their limits: a photo of exactly ``max_photo_bytes`` (a video of
``max_video_bytes``) is taken and one byte more refused; the device fix's accuracy may be up
to 100 km and must be more than 0."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from evidence import ClaimedFix
from evidence.errors import InvalidUploadError, UploadTooLargeError
from evidence.uploads import validate_new_upload
from infra.settings import EvidenceSettings
from tests.evidence.conftest import INSIDE, declaration


@pytest.mark.parametrize(
    ("content_type", "kind"), [("image/jpeg", "photo"), ("video/mp4", "video")]
)
def test_a_file_of_the_limit_is_taken_and_one_byte_more_refused(
    evidence_settings: EvidenceSettings, content_type: str, kind: str
) -> None:
    limit = (
        evidence_settings.max_photo_bytes if kind == "photo" else evidence_settings.max_video_bytes
    )
    at = replace(declaration(b"x", content_type), size_bytes=limit)
    assert validate_new_upload(at, evidence_settings).kind == kind
    with pytest.raises(UploadTooLargeError) as err:
        validate_new_upload(replace(at, size_bytes=limit + 1), evidence_settings)
    assert (err.value.extra["limit"], err.value.extra["size"]) == (limit, limit + 1)


def test_the_device_fix_accuracy_up_to_a_hundred_kilometres(
    evidence_settings: EvidenceSettings,
) -> None:
    def fix(acc: float) -> ClaimedFix:
        return ClaimedFix(lon=INSIDE[0], lat=INSIDE[1], accuracy_m=acc)

    validate_new_upload(declaration(b"x", "image/jpeg", fix=fix(100_000.0)), evidence_settings)
    validate_new_upload(declaration(b"x", "image/jpeg", fix=fix(0.01)), evidence_settings)
    for bad in (math.nextafter(100_000.0, math.inf), 0.0):
        with pytest.raises(InvalidUploadError) as err:
            validate_new_upload(declaration(b"x", "image/jpeg", fix=fix(bad)), evidence_settings)
        assert err.value.extra["field"] == "fix.accuracy_m"
