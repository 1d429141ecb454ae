"""Text in Shapefile attribute tables (DBF): which encoding, and decoding it safely.

A DBF stores bytes with no reliable encoding: a ``.cpg`` side file may name it, the header's
language-driver byte may hint at it, and otherwise only the bytes tell. Chinese deliveries
are UTF-8 or GBK/GB18030. Field names are cut at 10 bytes, values at the field width, often
in the middle of a character; a cut character is dropped (the valid prefix is kept) and any
other invalid byte becomes U+FFFD, so decoding never fails.

The importer reads Shapefiles through GDAL with ``ENCODING=ISO-8859-1``, which maps every byte
to one code point; :func:`recover` turns such a string back into the file's bytes and decodes
them with the encoding chosen here.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable

__all__ = [
    "RAW_BYTES",
    "detect_encoding",
    "encoding_from_cpg",
    "encoding_from_ldid",
    "normalise_encoding",
    "recover",
    "safe_decode",
]

#: The GDAL encoding under which a DBF's bytes come through unchanged (one byte, one char).
RAW_BYTES = "ISO-8859-1"
_GBK = "gb18030"  # a superset of GBK and GB2312: what "GBK" files really hold
_CODE_PAGES = {
    "936": _GBK, "cp936": _GBK, "gbk": _GBK, "gb2312": _GBK, "gb18030": _GBK,
    "65001": "utf-8", "utf8": "utf-8", "utf-8": "utf-8",
    "950": "big5", "cp950": "big5", "big5": "big5",
    "1252": "cp1252", "ansi 1252": "cp1252", "cp1252": "cp1252",
    "88591": "latin-1", "8859_1": "latin-1", "iso-8859-1": "latin-1", "iso88591": "latin-1",
}  # fmt: skip
#: Language-driver ids (DBF header byte 29) that name a Chinese code page.
_LDIDS = {0x4D: _GBK, 0x7A: _GBK, 0x4F: "big5", 0x78: "big5"}


def normalise_encoding(name: str) -> str | None:
    """A Python codec name for ``name`` (``GBK``, ``936``, ``UTF-8``...), or ``None``."""
    key = name.strip().lower()
    if key in _CODE_PAGES:
        return _CODE_PAGES[key]
    try:
        codec = codecs.lookup(key).name
    except LookupError:
        return None
    return _GBK if codec in ("gbk", "gb2312") else codec


def encoding_from_cpg(text: str) -> str | None:
    """The encoding a ``.cpg`` file names (first line), or ``None`` when unknown."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return normalise_encoding(first) if first else None


def encoding_from_ldid(header: bytes) -> str | None:
    """The encoding the DBF header's language-driver byte names, when it is a Chinese one."""
    return _LDIDS.get(header[29]) if len(header) > 29 else None


def _valid_utf8(raw: bytes) -> bool:
    """Valid UTF-8, allowing one character cut at the end (a name cut at 10 bytes)."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(raw, final=False)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(samples: Iterable[bytes]) -> str:
    """``utf-8`` when every sample is valid UTF-8 (plain ASCII included), else GB18030."""
    return "utf-8" if all(_valid_utf8(raw) for raw in samples) else _GBK


def safe_decode(raw: bytes, encoding: str) -> str:
    """Decode, dropping a character cut at the end and replacing any other invalid byte."""
    return codecs.getincrementaldecoder(encoding)(errors="replace").decode(raw, final=False)


def recover(value: str, encoding: str) -> str:
    """A string GDAL read as ISO-8859-1, decoded from its bytes with ``encoding``."""
    return safe_decode(value.encode("latin-1"), encoding)
