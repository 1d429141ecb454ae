"""Errors raised by the geofence package.

::

    InvalidInputError (infra)
    ├── InvalidCoordinatesError   code "invalid_coordinates"   lon, lat, accuracy_m, points[i].lat
    ├── OutsideCountyError        code "outside_county"        field: position / points[i]
    ├── InvalidGeometryError      code "invalid_geometry"      field, reason, feature (1-based)
    ├── UnknownCrsError           code "unknown_crs"           field: crs; accepted
    ├── UnknownEncodingError      code "unknown_encoding"      field: encoding
    ├── UnknownSourceLayerError   code "unknown_source_layer"  field: layer; layers
    ├── UnsupportedFileError      code "unsupported_file"      field: file
    ├── NoFeaturesError           code "no_features"           field: file
    ├── UnknownLayerKindError     code "unknown_layer_kind"    field: kind / kinds
    ├── InvalidFieldMapError      code "invalid_field_map"     field: field_map
    ├── TooManyPointsError        code "too_many_points"       field: points
    └── InvalidRosterError        code "invalid_roster"        field: role / user_id / phone ...
    NotFoundError (infra)
    ├── LayerVersionNotFoundError code "layer_version_not_found"
    ├── ImportJobNotFoundError    code "import_job_not_found"
    ├── MineSiteNotFoundError     code "mine_site_not_found"
    └── CountyNotFoundError       code "county_not_found"
    ConflictError (infra)
    └── DuplicateSiteCodeError    code "duplicate_site_code"

Every error carries ``extra["field"]`` naming the offending input where there is one, so the
HTTP layer can point at it in the problem-details body.
"""

from __future__ import annotations

from typing import Any

from infra import error_codes as codes
from infra.errors import ConflictError, InvalidInputError, NotFoundError

__all__ = [
    "CountyNotFoundError",
    "DuplicateSiteCodeError",
    "ImportJobNotFoundError",
    "InvalidCoordinatesError",
    "InvalidFieldMapError",
    "InvalidGeometryError",
    "InvalidRosterError",
    "LayerVersionNotFoundError",
    "MineSiteNotFoundError",
    "NoFeaturesError",
    "OutsideCountyError",
    "TooManyPointsError",
    "UnknownCrsError",
    "UnknownEncodingError",
    "UnknownLayerKindError",
    "UnknownSourceLayerError",
    "UnsupportedFileError",
]


class _FieldError(InvalidInputError):
    """An invalid input that names the offending ``field``."""

    def __init__(self, detail: str, *, field: str, **extra: Any) -> None:
        super().__init__(detail, field=field, **extra)
        self.field = field


class InvalidCoordinatesError(_FieldError):
    default_code = codes.INVALID_COORDINATES


class OutsideCountyError(_FieldError):
    default_code = codes.OUTSIDE_COUNTY


class InvalidGeometryError(_FieldError):
    """A geometry that is empty, of the wrong type or cannot be repaired.

    ``extra`` holds ``reason`` and, for file imports, ``feature`` (1-based number in the file).
    """

    default_code = codes.INVALID_GEOMETRY


class UnknownCrsError(_FieldError):
    default_code = codes.UNKNOWN_CRS


class UnknownEncodingError(_FieldError):
    """A text encoding for a Shapefile's attribute table that Python does not know."""

    default_code = codes.UNKNOWN_ENCODING


class UnknownSourceLayerError(_FieldError):
    """A layer of a multi-layer file (GeoPackage, File Geodatabase) that is not there, or no
    layer named when several could be meant; ``extra["layers"]`` lists the file's layers."""

    default_code = codes.UNKNOWN_SOURCE_LAYER


class UnsupportedFileError(_FieldError):
    default_code = codes.UNSUPPORTED_FILE


class NoFeaturesError(_FieldError):
    """A layer file with no feature that has a geometry (empty, all null, only whitespace)."""

    default_code = codes.NO_FEATURES


class UnknownLayerKindError(_FieldError):
    default_code = codes.UNKNOWN_LAYER_KIND


class InvalidFieldMapError(_FieldError):
    default_code = codes.INVALID_FIELD_MAP


class TooManyPointsError(_FieldError):
    default_code = codes.TOO_MANY_POINTS


class InvalidRosterError(_FieldError):
    default_code = codes.INVALID_ROSTER


class LayerVersionNotFoundError(NotFoundError):
    default_code = codes.LAYER_VERSION_NOT_FOUND


class ImportJobNotFoundError(NotFoundError):
    default_code = codes.IMPORT_JOB_NOT_FOUND


class MineSiteNotFoundError(NotFoundError):
    default_code = codes.MINE_SITE_NOT_FOUND


class CountyNotFoundError(NotFoundError):
    default_code = codes.COUNTY_NOT_FOUND


class DuplicateSiteCodeError(ConflictError):
    default_code = codes.DUPLICATE_SITE_CODE
