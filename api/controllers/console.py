"""The web console: its static files at ``/console``, ``/`` sent there, and ``GetConsoleConfig``.

The console (TypeScript source in ``api/console/``, built by ``make install`` into
``api/console/dist/``) is a page of the same origin that logs in with ``CreateToken`` and
calls the API like a phone does. Its files carry no data, so they are served without a
token (``api.auth.PUBLIC_PATHS``); everything they show comes from the API with the user's
token. Files whose name carries a content hash (``app-3F2K9QZA.js``) never change and are
cached for a year; ``index.html`` and the other files are revalidated on every load (ETag).
The build writes a gzip copy (``.gz``) of every text file, sent to clients that accept it.
Every page gets a content security policy that loads nothing from another origin (but the
basemap's tiles, when one is configured, and images from the object store's presigned URLs).

Without a build, ``/console`` answers a page saying to run ``make install``.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from litestar import Controller, Request, Response, Router, get
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import (
    OpenAPIRenderPlugin,
    ScalarRenderPlugin,
    SwaggerRenderPlugin,
)
from litestar.params import FromPath
from litestar.response import Redirect
from litestar.status_codes import HTTP_304_NOT_MODIFIED, HTTP_503_SERVICE_UNAVAILABLE

from api.deps import Caller
from infra.settings import Settings
from mobile_contract.v1.console import Basemap, ConsoleConfig
from sync.layers import LAYERS

__all__ = [
    "CONSOLE_DIST",
    "DOCS_ASSETS",
    "ConsoleConfigController",
    "console_router",
    "content_policy",
    "docs_render_plugins",
]

#: Where ``make install`` builds the console.
CONSOLE_DIST = Path(__file__).resolve().parents[1] / "console" / "dist"
CONSOLE_PATH = "/console"
#: The documentation pages' scripts and styles (Scalar, Swagger UI), copied by the build.
DOCS_ASSETS = f"{CONSOLE_PATH}/docs"

_HASHED = re.compile(r"-[A-Z0-9]{8}\.(?:js|mjs|css)$")
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".map": "application/json",
    ".txt": "text/plain; charset=utf-8",
}
_IMMUTABLE = "public, max-age=31536000, immutable"
_REVALIDATE = "no-cache"

NOT_BUILT_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>管理端尚未构建</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto; line-height: 1.6">
<h1>管理端尚未构建</h1>
<p>服务器上还没有网页管理端的文件。请在项目目录中运行：</p>
<pre style="background: #f3f3f3; padding: 1em">make install</pre>
<p>它会安装 Node.js 依赖并构建管理端（生成 <code>api/console/dist/</code>），然后刷新本页。</p>
<p lang="en">The web console is not built. Run <code>make install</code>, then reload.</p>
</body></html>
"""


def _origin(url: str) -> str:
    parts = urlsplit(url.replace("{", "").replace("}", ""))
    return f" {parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def content_policy(settings: Settings) -> str:
    """Nothing from another origin: scripts, styles, workers and API calls are this server's;
    images may also be ``data:`` (the map controls' icons) and ``blob:`` (decoded tiles).
    A configured basemap's origin is allowed for its tiles only; the object store's address
    in presigned URLs (``S3_PUBLIC_URL``, else ``S3_ENDPOINT_URL``) for images only (the
    evidence thumbnails, each a short-lived presigned GET)."""
    basemap = settings.server.console_basemap_url
    extra = _origin(basemap) if basemap else ""
    store = settings.object_store.public_url or settings.object_store.endpoint_url
    images = extra + (_origin(store) if store else "")
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; worker-src 'self'; "
        f"img-src 'self' data: blob:{images}; connect-src 'self'{extra}; font-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def _headers(settings: Settings, cache: str) -> dict[str, str]:
    return {
        "Cache-Control": cache,
        "Content-Security-Policy": content_policy(settings),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


def _locate(dist: Path, path: str) -> Path:
    """The file of ``dist`` that ``path`` names; never one outside it."""
    relative = path.strip("/") or "index.html"
    candidate = (dist / relative).resolve()
    if (
        not candidate.is_relative_to(dist.resolve())
        or candidate.suffix == ".gz"
        or not candidate.is_file()
    ):
        raise NotFoundException(f"no console file {relative[:80]!r}")
    return candidate


def _read(path: Path, gzip_ok: bool) -> tuple[bytes, bool, str]:
    """The bytes to send (the ``.gz`` copy when the client takes gzip), whether they are
    gzipped, and the ETag of the file."""
    stat = path.stat()
    etag = f'W/"{stat.st_size:x}-{stat.st_mtime_ns:x}"'
    packed = path.with_name(path.name + ".gz")
    if gzip_ok and packed.is_file():
        return packed.read_bytes(), True, etag
    return path.read_bytes(), False, etag


def console_router(dist: Path = CONSOLE_DIST) -> Router:
    """The routes of the console's files from ``dist`` (and ``/`` sent to the console)."""

    @get(
        [CONSOLE_PATH, f"{CONSOLE_PATH}/{{path:path}}"],
        include_in_schema=False,
        opt={"skip_compression": True},  # the build's .gz copies are sent as they are
    )
    async def console_file(
        request: Request[Any, Any, Any], state: State, path: FromPath[str] = "/"
    ) -> Response[bytes]:
        settings: Settings = state.settings
        if not (dist / "index.html").is_file():
            return Response(
                NOT_BUILT_PAGE.encode(),
                status_code=HTTP_503_SERVICE_UNAVAILABLE,
                media_type="text/html; charset=utf-8",
                headers=_headers(settings, "no-store"),
            )
        found = _locate(dist, path)
        gzip_ok = "gzip" in request.headers.get("accept-encoding", "")
        content, gzipped, etag = await asyncio.to_thread(_read, found, gzip_ok)
        headers = _headers(settings, _IMMUTABLE if _HASHED.search(found.name) else _REVALIDATE)
        headers["ETag"] = etag
        headers["Vary"] = "Accept-Encoding"
        if request.headers.get("if-none-match") == etag:
            return Response(b"", status_code=HTTP_304_NOT_MODIFIED, headers=headers)
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        media = _TYPES.get(found.suffix, "application/octet-stream")
        return Response(content, media_type=media, headers=headers)

    @get("/", include_in_schema=False, sync_to_thread=False)
    def root() -> Redirect:
        return Redirect(f"{CONSOLE_PATH}/")

    return Router(path="", route_handlers=[console_file, root])


_NO_ICON = "<link rel='icon' href='data:,'>"  # no request for /favicon.ico


def docs_render_plugins() -> list[OpenAPIRenderPlugin]:
    """Scalar at ``/schema`` and Swagger UI at ``/schema/swagger``, their scripts and styles
    served from :data:`DOCS_ASSETS` (copied from the pinned npm packages by the console's
    build), no fonts, icons or scripts from a CDN."""
    return [
        ScalarRenderPlugin(
            path="/",
            js_url=f"{DOCS_ASSETS}/scalar-api-reference.js",
            css_url=f"{DOCS_ASSETS}/scalar-style.css",
            favicon=_NO_ICON,
            # no fonts, telemetry, AI agent or request proxy of Scalar's own servers
            options={
                "withDefaultFonts": False,
                "telemetry": False,
                "agent": {"disabled": True},
                "showOperationId": True,
            },
        ),
        SwaggerRenderPlugin(
            path="/swagger",
            js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            standalone_preset_js_url=f"{DOCS_ASSETS}/swagger-ui-standalone-preset.js",
            favicon=_NO_ICON,
        ),
    ]


class ConsoleConfigController(Controller):
    path = "/console"
    tags = ["console"]  # noqa: RUF012

    @get("/config", operation_id="GetConsoleConfig", summary="What the web console draws")
    async def get_config(self, state: State, principal: Caller) -> ConsoleConfig:
        """The basemap (if one is configured: ``PATROL_CONSOLE_BASEMAP_URL``), where the
        vector tiles of the reference layers are and which layers there are."""
        del principal  # any role of any county: the answer is the server's
        server = state.settings.server
        basemap = (
            Basemap(
                url_template=server.console_basemap_url,
                attribution=server.console_basemap_attribution,
            )
            if server.console_basemap_url
            else None
        )
        return ConsoleConfig(
            basemap=basemap,
            tile_url_template="/api/v1/tiles/{layer}/{z}/{x}/{y}.mvt",
            layers=list(LAYERS),
        )
