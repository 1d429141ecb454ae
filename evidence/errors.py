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

from infra import error_codes as codes
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
    default_code = codes.UPLOAD_NOT_FOUND


class EvidenceNotFoundError(NotFoundError):
    default_code = codes.EVIDENCE_NOT_FOUND


class DerivativeNotFoundError(NotFoundError):
    default_code = codes.DERIVATIVE_NOT_FOUND


class NotUploadOwnerError(PermissionDeniedError):
    default_code = codes.NOT_UPLOAD_OWNER


class EvidenceIdConflictError(ConflictError):
    default_code = codes.EVIDENCE_ID_CONFLICT


class UploadAbortedError(ConflictError):
    default_code = codes.UPLOAD_ABORTED


class UploadAlreadyAcceptedError(ConflictError):
    default_code = codes.UPLOAD_ALREADY_ACCEPTED


class UploadIncompleteError(ConflictError):
    default_code = codes.UPLOAD_INCOMPLETE


class InvalidUploadError(InvalidInputError):
    default_code = codes.INVALID_UPLOAD


class UnsupportedMediaTypeError(InvalidInputError):
    default_code = codes.UNSUPPORTED_MEDIA_TYPE


class UploadTooLargeError(InvalidInputError):
    default_code = codes.UPLOAD_TOO_LARGE


class FileEmptyError(InvalidInputError):
    default_code = codes.FILE_EMPTY


class EvidenceHashMismatchError(InvalidInputError):
    default_code = codes.EVIDENCE_HASH_MISMATCH


class EvidenceSizeMismatchError(InvalidInputError):
    default_code = codes.EVIDENCE_SIZE_MISMATCH


class EvidenceTypeMismatchError(InvalidInputError):
    default_code = codes.EVIDENCE_TYPE_MISMATCH


class FileCorruptError(InvalidInputError):
    default_code = codes.FILE_CORRUPT


class ImageTooLargeError(InvalidInputError):
    default_code = codes.IMAGE_TOO_LARGE


class ReferenceNotFoundError(InvalidInputError):
    """One answer for every reference the caller may not use: it says nothing of whether the
    id exists elsewhere."""

    default_code = codes.REFERENCE_NOT_FOUND
