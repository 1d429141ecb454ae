"""PDF documents: laid out in the CJK font, text extractable, nothing fetched from outside."""

from __future__ import annotations

import io
from pathlib import Path

from pypdf import PdfReader

from infra.documents import render_pdf


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)


def test_a_chinese_document_renders_and_reads_back() -> None:
    pdf = render_pdf(
        "<h1>行政处罚决定书</h1><p class='docno'>湘自然资罚〔2026〕12号</p>"
        "<table><tr><th>当事人</th><td>某建材有限公司</td></tr>"
        "<tr><th>罚款</th><td>人民币壹拾伍万元整（150,000.00元）</td></tr></table>"
    )
    assert pdf.startswith(b"%PDF-")
    text = _text(pdf)
    for words in (
        "行政处罚决定书",
        "湘自然资罚〔2026〕12号",
        "某建材有限公司",
        "150,000.00",
        "第 1 页 共 1 页",
    ):
        assert words in text, (words, text)


def test_long_documents_number_their_pages() -> None:
    rows = "".join(f"<tr><td>{i}</td><td>询问笔录第{i}问</td></tr>" for i in range(200))
    text = _text(render_pdf(f"<h1>询问笔录</h1><table>{rows}</table>"))
    assert "第 1 页" in text and "共 " in text
    pages = int(text.rsplit("共 ", 1)[1].split(" ", 1)[0])
    assert pages > 2


def test_nothing_is_fetched_from_outside(tmp_path: Path) -> None:
    """A stylesheet on this machine that would add a word is not read (nor would one on the
    network be): the document is laid out from its own text."""
    sheet = tmp_path / "extra.css"
    sheet.write_text('p::after { content: "取得外部样式"; }', encoding="utf-8")
    for href in (sheet.as_uri(), "http://127.0.0.1:9/extra.css"):
        head = f"<head><link rel='stylesheet' href='{href}'></head>"
        html = f"<html>{head}<body><p>正文</p></body></html>"
        text = _text(render_pdf(html))
        assert "正文" in text and "取得外部样式" not in text
    # the same sheet, given as the document's own CSS, does apply (the test can fail)
    assert "取得外部样式" in _text(render_pdf("<p>正文</p>", css=sheet.read_text("utf-8")))


def test_laying_out_a_document_leaves_pillow_strict_about_truncated_images() -> None:
    """The engine's import switches Pillow to accept truncated images process-wide; that
    must not reach the evidence checks of the same server process."""
    from PIL import ImageFile  # noqa: PLC0415

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    render_pdf("<p>一页</p>")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
