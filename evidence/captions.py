"""The caption burnt into a copy of a photo (or a video's poster), in Simplified Chinese.

::

    经度：112.018852°E　纬度：28.436821°N　精度：±5 米
    方位角：135°（东南）　时间：2026-11-20 16:00:00（UTC+08:00）
    地点：城关镇 长岭村 吴家冲采石场
    取证人：张三　单位：示范县自然资源执法监察大队

The place is the township and village under the position and the mine site (or else the
parcel) from the location check stored with the evidence; the unit is the county's
enforcement brigade. Lines without facts are left out.

The text needs a CJK font. :func:`find_cjk_font` looks, in order, at the configured file
(``PATROL_CAPTION_FONT``), at the files of Debian's ``fonts-noto-cjk`` (which
``infra/bootstrap.sh`` installs) and of other common CJK packages, then asks fontconfig for
any font covering ``zh-cn``. Without one it raises :class:`CaptionFontMissingError`, whose
message says what to install: a caption in boxes would be worse than none.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "CaptionFacts",
    "CaptionFontMissingError",
    "caption_lines",
    "caption_place",
    "draw_caption",
    "find_cjk_font",
    "unit_name",
]

FONT_FILES: tuple[str, ...] = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # Debian/Ubuntu fonts-noto-cjk
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",  # Arch noto-fonts-cjk
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",  # Fedora
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # fonts-wqy-zenhei
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # fonts-wqy-microhei
    "/usr/share/fonts/truetype/arphic/uming.ttc",  # fonts-arphic-uming
)
"""CJK font files looked for before fontconfig is asked."""

_COMPASS = ("北", "东北", "东", "东南", "南", "西南", "西", "西北")
_LAND_CLASS = {
    "permanent_basic_farmland": "永久基本农田",
    "cultivated": "耕地",
    "other_farmland": "其他农用地",
    "construction_approved": "批准建设用地",
    "construction_unapproved": "未批建设用地",
    "unused": "未利用地",
    "other": "其他用地",
}
_GAP = "\u3000"  # an ideographic space between the facts of one line
_MIN_FONT_PX = 10
_MAX_FACES = 16


class CaptionFontMissingError(RuntimeError):
    """No CJK font is installed (or the configured one does not exist)."""


@dataclass(frozen=True, slots=True)
class CaptionFacts:
    """What the caption says; ``place`` runs from township down to the site or parcel."""

    lon: float
    lat: float
    accuracy_m: float
    azimuth_deg: float | None
    captured_at: datetime
    offset: timezone
    place: tuple[str, ...] = ()
    inspector: str | None = None
    unit: str | None = None


# -- text ------------------------------------------------------------------------------------
def unit_name(county_name: str | None) -> str | None:
    """The county's enforcement brigade (自然资源执法监察大队), named after the county."""
    name = (county_name or "").strip()
    return f"{name}自然资源执法监察大队" if name else None


def _compass(azimuth: float) -> str:
    return _COMPASS[round((azimuth % 360) / 45) % 8]


def _parcel(feature: Mapping[str, Any]) -> str | None:
    label = _LAND_CLASS.get(str(feature.get("land_class") or ""))
    attributes = feature.get("attributes")
    source = attributes.get("source_name") if isinstance(attributes, Mapping) else None
    source = str(source).strip() if source else ""
    if source and label and source != label:
        return f"{source}地块（{label}）"
    if source or label:
        return f"{source or label}地块"
    return None


def caption_place(
    location_check: Mapping[str, Any] | None,
    *,
    township: str | None = None,
    village: str | None = None,
) -> tuple[str, ...]:
    """Township, village, then the nearest mine site's name or else the parcel the position
    lies in (with its land class), from a stored location check (features nearest first)."""
    features = [f for f in (location_check or {}).get("features") or [] if isinstance(f, Mapping)]
    site: str | None = None
    for feature in features:
        attributes = feature.get("attributes")
        if feature.get("kind") == "mine_sites" and isinstance(attributes, Mapping):
            site = str(attributes.get("name") or "").strip() or None
            if site:
                break
    if site is None:
        site = next(
            (
                _parcel(f)
                for f in features
                if f.get("kind") == "parcels" and f.get("relation") in {"inside", "boundary"}
            ),
            None,
        )
    parts = (township, village, site)
    return tuple(p.strip() for p in parts if p and p.strip())


def caption_lines(facts: CaptionFacts) -> list[str]:
    """The caption text: position and accuracy; azimuth and local time; place; who and unit."""
    ns = "N" if facts.lat >= 0 else "S"
    ew = "E" if facts.lon >= 0 else "W"
    azimuth = (
        "未知"
        if facts.azimuth_deg is None
        else f"{facts.azimuth_deg % 360:.0f}°（{_compass(facts.azimuth_deg)}）"
    )
    local = facts.captured_at.astimezone(facts.offset)
    offset = local.strftime("%z")
    lines = [
        f"经度：{abs(facts.lon):.6f}°{ew}{_GAP}纬度：{abs(facts.lat):.6f}°{ns}"
        f"{_GAP}精度：±{facts.accuracy_m:.0f} 米",
        f"方位角：{azimuth}{_GAP}时间：{local:%Y-%m-%d %H:%M:%S}（UTC{offset[:3]}:{offset[3:]}）",
    ]
    if facts.place:
        lines.append("地点：" + " ".join(facts.place))
    who = []
    if facts.inspector:
        who.append(f"取证人：{facts.inspector}")
    if facts.unit:
        who.append(f"单位：{facts.unit}")
    if who:
        lines.append(_GAP.join(who))
    return lines


# -- font ------------------------------------------------------------------------------------
def _simplified_face(path: str) -> int:
    """The face of a collection that is Simplified Chinese (``... SC``), else the first."""
    if not path.lower().endswith((".ttc", ".otc")):
        return 0
    for index in range(_MAX_FACES):
        try:
            family = ImageFont.truetype(path, 12, index=index).getname()[0] or ""
        except OSError:
            break
        if family.endswith(" SC") or " SC " in family:
            return index
    return 0


def _fontconfig() -> tuple[str, int] | None:
    """Ask fontconfig for a font that covers Simplified Chinese (``SC`` families first)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    try:
        listing = subprocess.run(
            [fc_list, ":lang=zh-cn", "--format", "%{file}|%{index}|%{family}|%{style}\n"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found: list[tuple[bool, bool, str, int]] = []
    for line in listing.splitlines():
        path, index, family, style = [*line.split("|"), "", "", ""][:4]
        if path and index.isdigit() and Path(path).is_file():
            found.append((" SC" not in family, "Regular" not in style, path, int(index)))
    if not found:
        return None
    *_, best, face = min(found)
    return best, face


def find_cjk_font(
    configured: str = "",
    *,
    candidates: Sequence[str] = FONT_FILES,
    use_fontconfig: bool = True,
) -> tuple[str, int]:
    """``(file, face index)`` of a CJK font for captions; see the module docstring."""
    if configured:
        if not Path(configured).is_file():
            msg = f"the caption font {configured!r} (PATROL_CAPTION_FONT) does not exist"
            raise CaptionFontMissingError(msg)
        return configured, _simplified_face(configured)
    for path in candidates:
        if Path(path).is_file():
            return path, _simplified_face(path)
    found = _fontconfig() if use_fontconfig else None
    if found is None:
        msg = (
            "no CJK font for captions: install Debian's fonts-noto-cjk "
            "(`make install` does) or set PATROL_CAPTION_FONT to a font file"
        )
        raise CaptionFontMissingError(msg)
    return found


@functools.lru_cache(maxsize=4)
def _font_file(configured: str) -> tuple[str, int]:
    return find_cjk_font(configured)


@functools.lru_cache(maxsize=64)
def _font(path: str, index: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size, index=index)


# -- drawing ---------------------------------------------------------------------------------
def draw_caption(image: Image.Image, facts: CaptionFacts, *, font_file: str = "") -> Image.Image:
    """Draw the caption on a dark band along the bottom of ``image`` (RGB, changed in place).

    The font size follows the picture's width and shrinks until the longest line fits.
    """
    path, index = _font_file(font_file)
    lines = caption_lines(facts)
    size = max(_MIN_FONT_PX, image.width // 40)
    font = _font(path, index, size)
    longest = max(font.getlength(line) for line in lines)
    room = image.width * 0.96
    if longest > room:
        size = max(_MIN_FONT_PX, int(size * room / longest))
        font = _font(path, index, size)
    pad = max(2, size // 2)
    line_height = size + pad // 2
    band = pad * 2 + line_height * len(lines)
    draw = ImageDraw.Draw(image, "RGBA")
    draw.rectangle((0, image.height - band, image.width, image.height), fill=(0, 0, 0, 150))
    for number, line in enumerate(lines):
        y = image.height - band + pad + number * line_height
        draw.text((pad, y), line, font=font, fill=(255, 255, 255, 255))
    return image
