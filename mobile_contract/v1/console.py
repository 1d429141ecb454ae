"""What the web console (served at ``/console``) reads before it draws the map."""

from __future__ import annotations

import msgspec

__all__ = ["Basemap", "ConsoleConfig"]


class Basemap(msgspec.Struct, kw_only=True, rename="camel"):
    """Raster XYZ tiles in web mercator on WGS84 (``{z}``, ``{x}``, ``{y}`` in the template),
    drawn under the reference layers. Tiles on GCJ-02 would sit hundreds of metres off."""

    url_template: str
    attribution: str = ""
    max_zoom: int = 18


class ConsoleConfig(msgspec.Struct, kw_only=True, rename="camel"):
    """``basemap`` is null when none is configured: the layers are drawn on a plain ground.
    ``tileUrlTemplate`` is where ``GetTile`` answers, with ``{layer}``, ``{z}``, ``{x}``,
    ``{y}`` to fill in."""

    basemap: Basemap | None = None
    tile_url_template: str
    layers: list[str]
