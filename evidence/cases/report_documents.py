"""A report as a document, and the document as XLSX, PDF and CSV.

A :class:`ReportDocument` is a title, a subtitle, notes and tables; each :class:`Table` has a
two-level header as the paper forms have it (a column alone spans both header rows, a group
spans its columns), its rows and a 合计 row. The same document is written three ways:

* XLSX (openpyxl): one sheet per table, the title and subtitle merged over the table's
  width, the two header rows with their merged cells, numbers as numbers, 合计 in bold;
* PDF (:func:`infra.documents.render_pdf`: WeasyPrint, A4, a CJK font, page numbers): the
  tables one after the other, landscape when a table is wide;
* CSV: UTF-8 with a byte-order mark (Excel on a Chinese Windows machine), the tables one
  after the other with a blank line between them, the header groups in the first header row.
"""

from __future__ import annotations

import codecs
import csv
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter

from infra.documents import render_pdf

__all__ = ["Column", "ReportDocument", "Table", "to_csv", "to_pdf", "to_xlsx"]

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True, slots=True)
class Column:
    """A column: its name, and the group it sits under (None: it spans both header rows)."""

    name: str
    group: str | None = None


@dataclass(slots=True)
class Table:
    title: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    total: list[Any] | None = None  # the 合计 row
    note: str = ""


@dataclass(slots=True)
class ReportDocument:
    title: str
    subtitle: str
    tables: list[Table]
    notes: list[str] = field(default_factory=list)
    landscape: bool = True


def _spans(columns: Sequence[Column]) -> list[tuple[str | None, int, int]]:
    """(group, first index, count) of each run of columns under one group."""
    out: list[tuple[str | None, int, int]] = []
    for i, col in enumerate(columns):
        if col.group is not None and out and out[-1][0] == col.group:
            g, first, n = out[-1]
            out[-1] = (g, first, n + 1)
        else:
            out.append((col.group, i, 1))
    return out


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 2)
    return "" if value is None else value


def _text(value: Any) -> str:
    v = _cell(value)
    if isinstance(v, float):
        return f"{v:.2f}".rstrip("0").rstrip(".") if v != int(v) else str(int(v))
    return str(v)


# -- XLSX ------------------------------------------------------------------------------------------
_THIN = Side(style="thin")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _sheet_title(title: str, used: set[str]) -> str:
    base = "".join(ch for ch in title if ch not in "[]:*?/\\")[:28] or "表"
    name, n = base, 2
    while name in used:
        name, n = f"{base[:26]}{n}", n + 1
    used.add(name)
    return name


def _headers(ws: Any, table: Table) -> None:
    """Rows 3 and 4: a lone column spans both, a group spans its columns."""
    ws.append([c.name if c.group is None else c.group for c in table.columns])
    ws.append([None if c.group is None else c.name for c in table.columns])
    for group, first, n in _spans(table.columns):
        a, b = get_column_letter(first + 1), get_column_letter(first + n)
        if group is None:
            ws.merge_cells(f"{a}3:{a}4")
        elif n > 1:
            ws.merge_cells(f"{a}3:{b}3")
    for row in ws.iter_rows(min_row=3, max_row=4, max_col=len(table.columns)):
        for c in row:
            c.font = Font(bold=True)
            c.alignment = _CENTRE
            c.border = _BORDER


def _sheet(ws: Any, doc: ReportDocument, table: Table) -> None:
    width = len(table.columns)
    last = get_column_letter(width)
    heads = (
        (1, doc.title, Font(bold=True, size=15)),
        (2, f"{doc.subtitle}　{table.title}", Font()),
    )
    for row, text, font in heads:
        ws.append([text])
        ws.merge_cells(f"A{row}:{last}{row}")
        ws[f"A{row}"].font = font
        ws[f"A{row}"].alignment = _CENTRE
    _headers(ws, table)
    for values in table.rows:
        ws.append([_cell(v) for v in values])
    if table.total is not None:
        ws.append([_cell(v) for v in table.total])
        for c in ws[ws.max_row]:
            c.font = Font(bold=True)
    for row in ws.iter_rows(min_row=5, max_row=ws.max_row, max_col=width):
        for c in row:
            c.border = _BORDER
            if isinstance(c.value, float):
                c.number_format = "0.00"
    if table.note:
        ws.append([table.note])
        ws.merge_cells(f"A{ws.max_row}:{last}{ws.max_row}")
    for i, col in enumerate(table.columns, 1):
        ws.column_dimensions[get_column_letter(i)].width = max(8, min(30, 2 * len(col.name) + 4))
    ws.freeze_panes = "A5"


def to_xlsx(doc: ReportDocument) -> bytes:
    """The document as a workbook: a sheet per table."""
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    used: set[str] = set()
    for table in doc.tables:
        _sheet(book.create_sheet(_sheet_title(table.title, used)), doc, table)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# -- CSV -------------------------------------------------------------------------------------------
def to_csv(doc: ReportDocument) -> bytes:
    """The document as CSV: UTF-8 with a byte-order mark, the tables one after another."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([doc.title])
    w.writerow([doc.subtitle])
    for table in doc.tables:
        w.writerow([])
        w.writerow([table.title])
        w.writerow([c.name if c.group is None else c.group for c in table.columns])
        w.writerow(["" if c.group is None else c.name for c in table.columns])
        for row in table.rows:
            w.writerow([_text(v) for v in row])
        if table.total is not None:
            w.writerow([_text(v) for v in table.total])
        if table.note:
            w.writerow([table.note])
    for note in doc.notes:
        w.writerow([note])
    return codecs.BOM_UTF8 + buf.getvalue().encode("utf-8")


# -- PDF -------------------------------------------------------------------------------------------
_CSS = """
table { font-size: 9pt; margin-bottom: 6mm; page-break-inside: auto; }
th, td { padding: 1mm 1.5mm; text-align: center; }
td.l { text-align: left; }
tr.total td { font-weight: bold; }
p.note { font-size: 9pt; color: #333; }
.sub { text-align: center; margin-bottom: 4mm; }
"""
_LANDSCAPE = "@page { size: A4 landscape; margin: 15mm 12mm 15mm 12mm; }"


def _table_html(table: Table) -> str:
    e = html.escape
    top, bottom = [], []
    for group, first, n in _spans(table.columns):
        if group is None:
            top.append(f'<th rowspan="2">{e(table.columns[first].name)}</th>')
        else:
            top.append(f'<th colspan="{n}">{e(group)}</th>')
            bottom += [f"<th>{e(c.name)}</th>" for c in table.columns[first : first + n]]
    body = []
    for row in table.rows:
        cells = "".join(
            f'<td class="l">{e(_text(v))}</td>' if isinstance(v, str) else f"<td>{e(_text(v))}</td>"
            for v in row
        )
        body.append(f"<tr>{cells}</tr>")
    if table.total is not None:
        cells = "".join(f"<td>{e(_text(v))}</td>" for v in table.total)
        body.append(f'<tr class="total">{cells}</tr>')
    note = f'<p class="note">{e(table.note)}</p>' if table.note else ""
    return (
        f"<h2>{e(table.title)}</h2><table><thead><tr>{''.join(top)}</tr>"
        f"<tr>{''.join(bottom)}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}"
    )


def to_pdf(doc: ReportDocument) -> bytes:
    """The document as an A4 PDF (blocking: call it on a worker thread)."""
    e = html.escape
    parts = [f"<h1>{e(doc.title)}</h1>", f'<p class="sub">{e(doc.subtitle)}</p>']
    parts += [_table_html(t) for t in doc.tables]
    parts += [f'<p class="note">{e(n)}</p>' for n in doc.notes]
    css = _CSS + (_LANDSCAPE if doc.landscape else "")
    return render_pdf(f"<html><body>{''.join(parts)}</body></html>", css=css)
