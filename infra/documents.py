"""PDF documents from HTML and CSS, laid out by WeasyPrint (Debian's pango) in a CJK font.

The documents of a case file (立案审批表, 行政处罚决定书, …), the reports and the bulletins are
written as HTML with print CSS (A4, margins, page numbers) and rendered here, so that every
document shares one engine and one font rule: Noto Sans/Serif CJK SC (Debian's
``fonts-noto-cjk``, installed by ``make install``). Nothing is fetched: a document may refer
only to files under ``base_url`` (none by default), never to the network.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType
from typing import Any, Self

__all__ = ["BASE_CSS", "DocumentError", "LayoutProcess", "render_pdf", "render_pdf_pages"]

#: The page and type every document starts from (a document adds its own rules after it).
BASE_CSS = """
@page { size: A4; margin: 22mm 20mm 20mm 22mm;
        @bottom-center { content: "第 " counter(page) " 页 共 " counter(pages) " 页";
                         font-size: 9pt; color: #555; } }
html { font-family: "Noto Serif CJK SC", "Noto Sans CJK SC", serif; font-size: 11.5pt;
       line-height: 1.6; color: #000; }
h1 { font-family: "Noto Sans CJK SC", sans-serif; font-size: 18pt; text-align: center;
     margin: 0 0 6mm; letter-spacing: 0.1em; }
h2 { font-family: "Noto Sans CJK SC", sans-serif; font-size: 13pt; margin: 5mm 0 2mm; }
table { width: 100%; border-collapse: collapse; }
th, td { border: 0.5pt solid #000; padding: 1.5mm 2mm; vertical-align: top; text-align: left; }
th { font-family: "Noto Sans CJK SC", sans-serif; font-weight: normal; background: #f2f2f2;
     white-space: nowrap; }
.docno { text-align: center; margin-bottom: 6mm; }
.sign { margin-top: 12mm; text-align: right; }
"""


class DocumentError(RuntimeError):
    """A document could not be laid out (the engine or its system libraries are missing)."""


def render_pdf(html: str, *, css: str = "", base_url: str | None = None) -> bytes:
    """``html`` (a whole document or a body fragment) as PDF bytes, with :data:`BASE_CSS`
    and ``css`` applied. Blocking (tens of milliseconds a page): call it on a worker
    thread from async code."""
    return render_pdf_pages(html, css=css, base_url=base_url)[0]


def _engine() -> Any:
    """The layout engine, imported on first use (pango is loaded then, not at start).

    Importing it switches on Pillow's ``ImageFile.LOAD_TRUNCATED_IMAGES`` for the whole
    process, which would let a truncated photo pass the evidence checks as a whole one
    (:mod:`evidence.media`): the switch is put back as it was. Documents load no images."""
    from PIL import ImageFile  # noqa: PLC0415

    before = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        import weasyprint  # noqa: PLC0415
    except OSError as exc:  # pango or harfbuzz missing from the system
        msg = (
            "PDF documents need Debian's pango (apt-get install libpango-1.0-0 "
            f"libpangoft2-1.0-0): {exc}"
        )
        raise DocumentError(msg) from exc
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = before
    return weasyprint


def render_pdf_pages(html: str, *, css: str = "", base_url: str | None = None) -> tuple[bytes, int]:
    """:func:`render_pdf` and the number of pages laid out (for a file's catalogue)."""
    weasyprint = _engine()
    from weasyprint.urls import URLFetcher  # noqa: PLC0415

    class NoFetching(URLFetcher):  # type: ignore[misc]
        """Refuses every URL: a document is laid out from its own text and CSS alone."""

        def fetch(self, url: str, headers: Any = None) -> Any:  # noqa: ARG002
            raise ValueError(f"documents load nothing from outside: {url}")

    stylesheets = [weasyprint.CSS(string=BASE_CSS)]
    if css:
        stylesheets.append(weasyprint.CSS(string=css))
    document = weasyprint.HTML(string=html, base_url=base_url, url_fetcher=NoFetching())
    laid_out = document.render(stylesheets=stylesheets)
    pdf = laid_out.write_pdf()
    if not isinstance(pdf, bytes):  # write_pdf() without a target returns the bytes
        raise DocumentError("the layout engine gave no PDF")
    return pdf, len(laid_out.pages)


class LayoutProcess:
    """A child process that lays documents out, for the large ones (a case file's evidence
    list of hundreds of items): the memory the engine takes for its boxes is the child's and
    goes back to the system when the child ends, instead of staying with the server process.

    Use it for one job (``async with LayoutProcess() as layout: await
    layout.render_pages(...)``); the child starts on the first render (about 2 s: the
    interpreter, the engine and its fonts) and ends on leaving the block.
    """

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    async def render_pages(self, html: str, *, css: str = "") -> tuple[bytes, int]:
        """:func:`render_pdf_pages` in the child."""
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
        job = functools.partial(render_pdf_pages, html, css=css)
        return await asyncio.get_running_loop().run_in_executor(self._pool, job)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
