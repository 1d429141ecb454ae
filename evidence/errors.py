"""Errors of the evidence services, each with a stable ``code``.

::

    NotFoundError (404)
    ├── UploadNotFoundError           upload_not_found         unknown id, or another county's
    ├── EvidenceNotFoundError         evidence_not_found       also: not visible to this role
    └── DerivativeNotFoundError       derivative_not_found     not made yet, or no such kind
    PermissionDeniedError (403)
    └── NotUploadOwnerError           not_upload_owner         someone else's upload
    ConflictError (409)
    ├── EvidenceIdConflictError       evidence_id_conflict     the id names another declaration
    ├── UploadAbortedError            upload_aborted           complete or resume after abort
    ├── UploadAlreadyAcceptedError    upload_already_accepted  abort after acceptance
    └── UploadIncompleteError         upload_incomplete        complete before all bytes arrived
                                                               (``missing_parts`` lists them)
    InvalidInputError (422)
    ├── ReferenceNotFoundError        reference_not_found      a case, patrol, finding or
    │                                                          mine site the caller may not
    │                                                          attach evidence to (unknown,
    │                                                          another county's, out of scope)
    ├── InvalidUploadError            invalid_upload           plus specific codes:
    │                                 invalid_id, invalid_sha256, invalid_md5, invalid_size,
    │                                 invalid_part_size, invalid_part_md5s,
    │                                 invalid_coordinates, invalid_heading, invalid_time,
    │                                 invalid_view_type, invalid_text, invalid_cursor
    ├── UnsupportedMediaTypeError     unsupported_media_type   declared type not accepted
    ├── UploadTooLargeError           upload_too_large         over the photo/video limit
    ├── FileEmptyError                file_empty               zero bytes
    ├── EvidenceHashMismatchError     evidence_hash_mismatch   stored bytes != declared SHA-256
    ├── EvidenceSizeMismatchError     evidence_size_mismatch   stored size != declared size
    ├── EvidenceTypeMismatchError     evidence_type_mismatch   bytes are not the declared type
    ├── FileCorruptError              file_corrupt             truncated or undecodable
    └── ImageTooLargeError            image_too_large          too many pixels (decompression
                                                               bomb), refused from the header

Every 422 on complete leaves the upload open: nothing is stored as evidence and the phone
may upload again (for a changed file, ``create_upload`` again with the new declaration).
"""

from __future__ import annotations

from infra.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError

__all__ = [
    "DerivativeNotFoundError",
    "EvidenceHashMismatchError",
    "EvidenceIdConflictError",
    "EvidenceNotFoundError",
    "EvidenceSizeMismatchError",
    "EvidenceTypeMismatchError",
    "FileCorruptError",
    "FileEmptyError",
    "ImageTooLargeError",
    "InvalidUploadError",
    "NotUploadOwnerError",
    "ReferenceNotFoundError",
    "UnsupportedMediaTypeError",
    "UploadAbortedError",
    "UploadAlreadyAcceptedError",
    "UploadIncompleteError",
    "UploadNotFoundError",
    "UploadTooLargeError",
]


class UploadNotFoundError(NotFoundError):
    default_code = "upload_not_found"


class EvidenceNotFoundError(NotFoundError):
    default_code = "evidence_not_found"


class DerivativeNotFoundError(NotFoundError):
    default_code = "derivative_not_found"


class NotUploadOwnerError(PermissionDeniedError):
    default_code = "not_upload_owner"


class EvidenceIdConflictError(ConflictError):
    default_code = "evidence_id_conflict"


class UploadAbortedError(ConflictError):
    default_code = "upload_aborted"


class UploadAlreadyAcceptedError(ConflictError):
    default_code = "upload_already_accepted"


class UploadIncompleteError(ConflictError):
    default_code = "upload_incomplete"


class InvalidUploadError(InvalidInputError):
    default_code = "invalid_upload"


class UnsupportedMediaTypeError(InvalidInputError):
    default_code = "unsupported_media_type"


class UploadTooLargeError(InvalidInputError):
    default_code = "upload_too_large"


class FileEmptyError(InvalidInputError):
    default_code = "file_empty"


class EvidenceHashMismatchError(InvalidInputError):
    default_code = "evidence_hash_mismatch"


class EvidenceSizeMismatchError(InvalidInputError):
    default_code = "evidence_size_mismatch"


class EvidenceTypeMismatchError(InvalidInputError):
    default_code = "evidence_type_mismatch"


class FileCorruptError(InvalidInputError):
    default_code = "file_corrupt"


class ImageTooLargeError(InvalidInputError):
    default_code = "image_too_large"


class ReferenceNotFoundError(InvalidInputError):
    """One answer for every reference the caller may not use: it says nothing of whether the
    id exists elsewhere."""

    default_code = "reference_not_found"
