"""Test files made here: photos with EXIF GPS (Pillow + piexif), videos (PyAV), hostile files.

piexif only *builds* fixtures; the code under test never lets it parse an upload.
"""

from __future__ import annotations

import base64
import hashlib
import io
import struct
import tempfile
import zlib
from datetime import datetime
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import piexif
import pillow_heif
from PIL import Image, PngImagePlugin


def _rational(value: float, precision: int = 1_000_000) -> tuple[int, int]:
    frac = Fraction(value).limit_denominator(precision)
    return frac.numerator, frac.denominator


def _dms(value: float) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    value = abs(value)
    degrees = int(value)
    minutes_full = (value - degrees) * 60
    minutes = int(minutes_full)
    seconds = (minutes_full - minutes) * 60
    return (degrees, 1), (minutes, 1), (round(seconds * 10_000), 10_000)


def exif_bytes(
    *,
    lon: float | None = None,
    lat: float | None = None,
    when: datetime | None = None,
    offset: str | None = "+08:00",
    modified: datetime | None = None,
    modified_offset: str | None = None,
    orientation: int | None = None,
    direction: float | None = None,
    hpe: float | None = None,
    altitude: float | None = None,
    make: str = "Huawei",
    model: str = "Mate 60",
) -> bytes:
    zeroth: dict[int, object] = {piexif.ImageIFD.Make: make, piexif.ImageIFD.Model: model}
    if orientation is not None:
        zeroth[piexif.ImageIFD.Orientation] = orientation
    exif: dict[int, object] = {}
    if when is not None:
        exif[piexif.ExifIFD.DateTimeOriginal] = when.strftime("%Y:%m:%d %H:%M:%S")
        if offset is not None:
            exif[piexif.ExifIFD.OffsetTimeOriginal] = offset
    if modified is not None:  # IFD0 DateTime: when the file was last changed
        zeroth[piexif.ImageIFD.DateTime] = modified.strftime("%Y:%m:%d %H:%M:%S")
        if modified_offset is not None:
            exif[piexif.ExifIFD.OffsetTime] = modified_offset
    gps: dict[int, object] = {}
    if lon is not None and lat is not None:
        gps[piexif.GPSIFD.GPSLatitudeRef] = "N" if lat >= 0 else "S"
        gps[piexif.GPSIFD.GPSLatitude] = _dms(lat)
        gps[piexif.GPSIFD.GPSLongitudeRef] = "E" if lon >= 0 else "W"
        gps[piexif.GPSIFD.GPSLongitude] = _dms(lon)
    if direction is not None:
        gps[piexif.GPSIFD.GPSImgDirectionRef] = "T"
        gps[piexif.GPSIFD.GPSImgDirection] = _rational(direction, 100)
    if hpe is not None:
        gps[piexif.GPSIFD.GPSHPositioningError] = _rational(hpe, 100)
    if altitude is not None:
        gps[piexif.GPSIFD.GPSAltitudeRef] = 0
        gps[piexif.GPSIFD.GPSAltitude] = _rational(altitude, 100)
    return bytes(piexif.dump({"0th": zeroth, "Exif": exif, "GPS": gps, "1st": {}}))


def _picture(width: int, height: int) -> Image.Image:
    """A picture whose top-left quarter is red, so orientation can be checked."""
    image = Image.new("RGB", (width, height), (30, 120, 60))
    image.paste((220, 20, 20), (0, 0, width // 2, height // 2))
    return image


_XMP_NAMESPACES = {
    "exif": "http://ns.adobe.com/exif/1.0/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
}


def xmp(properties: dict[str, str], *, elements: bool = False, doctype: str = "") -> bytes:
    """An XMP packet with ``prefix:Name`` properties, as attributes of ``rdf:Description``
    (as phones write them) or as child elements (``elements=True``, as editors do)."""
    ns = " ".join(f'xmlns:{p}="{uri}"' for p, uri in _XMP_NAMESPACES.items())
    if elements:
        body = "".join(f"<{k}>{v}</{k}>" for k, v in properties.items())
        description = f'<rdf:Description rdf:about="" {ns}>{body}</rdf:Description>'
    else:
        attributes = " ".join(f'{k}="{v}"' for k, v in properties.items())
        description = f'<rdf:Description rdf:about="" {ns} {attributes}/>'
    return (
        f'{doctype}<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f"{description}</rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


def jpeg(
    width: int = 640, height: int = 480, *, exif: bytes | None = None, xmp: bytes | None = None
) -> bytes:
    buffer = io.BytesIO()
    params: dict[str, object] = {"quality": 80}
    if exif is not None:
        params["exif"] = exif
    if xmp is not None:
        params["xmp"] = xmp
    _picture(width, height).save(buffer, "JPEG", **params)
    return buffer.getvalue()


def photo(
    fmt: str,
    *,
    exif: bytes | None = None,
    xmp: bytes | None = None,
    size: tuple[int, int] = (320, 240),
) -> bytes:
    """PNG, WEBP, AVIF or HEIF with optional EXIF and XMP."""
    pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    params: dict[str, object] = {}
    if exif is not None:
        params["exif"] = exif
    if xmp is not None and fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", xmp.decode())
        params["pnginfo"] = info
    elif xmp is not None:
        params["xmp"] = xmp
    _picture(*size).save(buffer, fmt, **params)
    return buffer.getvalue()


def video(
    fmt: str = "mp4",
    *,
    metadata: dict[str, str] | None = None,
    frames: int = 10,
    rotation: int = 0,
    options: dict[str, str] | None = None,
    audio: bool = False,
) -> bytes:
    """A tiny H.264 (MPEG-4 for 3GP) video with container metadata and, if asked, AAC sound."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"clip.{fmt}"
        out = av.open(str(path), "w", format=fmt, options=options or {})
        for key, value in (metadata or {}).items():
            out.metadata[key] = value
        stream = out.add_stream("mpeg4" if fmt == "3gp" else "libx264", rate=10)
        stream.width = 64
        stream.height = 48
        stream.pix_fmt = "yuv420p"
        if rotation:
            stream.set_display_rotation(rotation)
        sound = out.add_stream("aac", rate=16000, layout="mono") if audio else None
        for index in range(frames):
            pixels = np.zeros((48, 64, 3), np.uint8)
            pixels[:24, :32] = (220, 20, 20)
            pixels[24:, 32:] = (index * 20 % 255, 100, 100)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
            if sound is not None:
                tone = np.sin(np.arange(1600) * 0.05 + index).astype(np.float32)[None, :]
                chunk = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
                chunk.sample_rate = 16000
                chunk.pts = index * 1600
                for packet in sound.encode(chunk):
                    out.mux(packet)
        for encoder in (stream, sound):
            if encoder is not None:
                for packet in encoder.encode():
                    out.mux(packet)
        out.close()
        return path.read_bytes()


def corrupt_exif_jpeg() -> bytes:
    """About 1.1 KB: an IFD claiming huge counts and offsets and looping into itself."""
    tiff = bytearray(b"MM\x00\x2a\x00\x00\x00\x08")
    entries = 40
    tiff += struct.pack(">H", entries)
    for index in range(entries):
        tag = (0x8825, 0x8769, 0x010F, 0x0110, 0x0112)[index % 5]
        kind = (4, 4, 2, 2, 3)[index % 5]
        count = 0x7FFFFFFF if index % 5 > 1 else 1
        tiff += struct.pack(">HHII", tag, kind, count, 8)
    tiff += b"\x00\x00\x00\x08"
    payload = b"Exif\x00\x00" + bytes(tiff)
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    small = jpeg(16, 16)
    return small[:2] + app1 + small[2:]


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header announcing 10 gigapixels, with a tiny (invalid) body."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def jpeg_bomb(width: int = 60_000, height: int = 60_000) -> bytes:
    """A JPEG whose SOF0 announces 3.6 gigapixels."""
    data = bytearray(jpeg(16, 16))
    index = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, index + 5, height, width)
    return bytes(data)


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


def padded(iso_file: bytes, total: int) -> bytes:
    """An ISO-BMFF file grown to ``total`` bytes with a top-level ``free`` box (still valid)."""
    extra = total - len(iso_file)
    assert extra > 8
    return iso_file + struct.pack(">I", extra) + b"free" + bytes(extra - 8)


def same_size_other_bytes(data: bytes) -> bytes:
    """The same length, one byte flipped near the end (inside the JPEG entropy data)."""
    index = len(data) - 10
    return data[:index] + bytes([data[index] ^ 0x55]) + data[index + 1 :]
