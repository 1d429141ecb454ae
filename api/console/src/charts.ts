// Small charts drawn as inline SVG: grouped vertical bars (one series or several) and
// horizontal stacked bars. Every bar carries its value in a <title> (hover) and an aria-label,
// takes the keyboard focus and shows its value in the chart's readout line on focus or hover;
// under each chart a table gives the same figures as text. No library: a few hundred bytes of
// geometry are cheaper than a chart package in the console's bundle.
import { h } from "./dom";
import { lang, t } from "./i18n";
import { fixed } from "./view";

const NS = "http://www.w3.org/2000/svg";

/** Colour-blind-friendly categorical colours (Okabe–Ito, then Tableau's). */
export const PALETTE = [
  "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000",
  "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#ff9da7", "#9c755f", "#bab0ac",
];

export interface Series {
  key: string;
  name: string;
  values: number[];
}

export interface BarChartSpec {
  id: string;
  title: string;
  categories: Array<{ key: string; label: string; title?: string }>;
  series: Series[];
  unit: string;
  xLabel: string;
  yLabel: string;
}

export interface StackRow {
  key: string;
  label: string;
  segments: Array<{ key: string; label: string; value: number }>;
}

export interface StackSpec {
  id: string;
  title: string;
  rows: StackRow[];
  unit: string;
  xLabel: string;
}

type SvgAttrs = Record<string, string | number | undefined>;

function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs: SvgAttrs = {}, ...children: Array<Node | string>): SVGElementTagNameMap[K] {
  const el = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) if (value !== undefined) el.setAttribute(name, String(value));
  for (const child of children) el.append(typeof child === "string" ? document.createTextNode(child) : child);
  return el;
}

/** A figure as the console shows it: whole numbers with separators, others to two places. */
export function num(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (Number.isInteger(value)) return value.toLocaleString(lang() === "en" ? "en" : "zh-CN");
  return fixed(value, 2);
}

/** A round axis maximum at or above ``max`` and its tick step (1, 2 or 5 times a power of 10). */
export function niceScale(max: number, ticks = 5): { top: number; step: number } {
  if (max <= 0) return { top: ticks, step: 1 };
  const raw = max / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((m) => m >= raw) ?? 10 * power;
  const whole = Number.isInteger(max) ? Math.max(step, 1) : step;
  return { top: Math.ceil(max / whole) * whole, step: whole };
}

function colour(i: number): string {
  return PALETTE[i % PALETTE.length]!;
}

/** The bar's words, its focus and hover readout. */
function bar(rect: SVGRectElement, words: string, readout: HTMLElement): SVGRectElement {
  rect.setAttribute("tabindex", "0");
  rect.setAttribute("role", "img");
  rect.setAttribute("aria-label", words);
  rect.append(s("title", {}, words));
  const show = (): void => { readout.textContent = words; };
  rect.addEventListener("focus", show);
  rect.addEventListener("mouseenter", show);
  return rect;
}

function legend(items: Array<{ label: string; color: string }>): HTMLElement {
  const list = h("ul", { class: "chart-legend" }, ...items.map((i) =>
    h("li", {}, h("span", { class: "swatch", "data-color": i.color }), i.label)));
  list.querySelectorAll<HTMLElement>(".swatch").forEach((el) => { el.style.background = el.dataset.color ?? ""; });
  return list;
}

function dataTable(id: string, caption: string, head: string[], rows: string[][]): HTMLElement {
  return h("details", { class: "chart-data" },
    h("summary", {}, t("chartData")),
    h("table", { class: "grid", id: `${id}-data` },
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, ...head.map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, ...rows.map((r) => h("tr", {},
        h("th", { scope: "row" }, r[0] ?? ""), ...r.slice(1).map((x) => h("td", { class: "num" }, x)))))));
}

function frame(id: string, title: string, svg: SVGSVGElement, readout: HTMLElement, ...rest: Array<Node | null>): HTMLElement {
  return h("figure", { class: "chart", id },
    h("figcaption", { id: `${id}-title` }, title), svg, readout, ...rest);
}

/** Vertical bars: for each category one bar per series, side by side. */
export function barChart(spec: BarChartSpec): HTMLElement {
  const W = 640, H = 300, left = 60, right = 12, top = 14, bottom = 64;
  const plotW = W - left - right, plotH = H - top - bottom;
  const max = Math.max(0, ...spec.series.flatMap((x) => x.values));
  const { top: yTop, step } = niceScale(max);
  const y = (v: number): number => top + plotH - (v / yTop) * plotH;
  const readout = h("p", { class: "chart-readout", "aria-live": "polite" }, t("chartHint"));
  const svg = s("svg", {
    viewBox: `0 0 ${W} ${H}`, class: "chart-svg", role: "group", "aria-labelledby": `${spec.id}-title`,
  });
  // the value axis: grid lines, ticks and its title
  for (let v = 0; v <= yTop + 1e-9; v += step) {
    svg.append(s("line", { x1: left, x2: W - right, y1: y(v), y2: y(v), class: v === 0 ? "axis" : "gridline" }));
    svg.append(s("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, num(Math.round(v * 1e6) / 1e6)));
  }
  svg.append(s("text", {
    x: 16, y: top + plotH / 2, transform: `rotate(-90 16 ${top + plotH / 2})`, "text-anchor": "middle", class: "axis-title",
  }, spec.yLabel));
  svg.append(s("text", { x: left + plotW / 2, y: H - 6, "text-anchor": "middle", class: "axis-title" }, spec.xLabel));
  const n = Math.max(spec.categories.length, 1);
  const groupW = plotW / n;
  const barW = (groupW * 0.8) / Math.max(spec.series.length, 1);
  const rotate = spec.categories.length > 8;
  spec.categories.forEach((c, ci) => {
    const x0 = left + ci * groupW + groupW * 0.1;
    const g = s("g", { class: "bar-group", "data-category": c.key });
    spec.series.forEach((ser, si) => {
      const v = ser.values[ci] ?? 0;
      const words = `${c.title ?? c.label}${spec.series.length > 1 ? ` · ${ser.name}` : ""}：${num(v)} ${spec.unit}`;
      g.append(bar(s("rect", {
        x: x0 + si * barW, y: y(v), width: Math.max(barW - 1, 1), height: Math.max(y(0) - y(v), 0),
        fill: colour(si), class: "bar", "data-series": ser.key, "data-category": c.key, "data-value": v,
      }), words, readout));
    });
    const lx = left + ci * groupW + groupW / 2, ly = top + plotH + 18;
    g.append(s("text", {
      x: lx, y: ly, "text-anchor": rotate ? "end" : "middle", class: "tick",
      transform: rotate ? `rotate(-35 ${lx} ${ly})` : undefined,
    }, c.label));
    svg.append(g);
  });
  const head = [spec.xLabel, ...spec.series.map((x) => x.name)];
  const rows = spec.categories.map((c, ci) => [c.title ?? c.label, ...spec.series.map((x) => num(x.values[ci] ?? 0))]);
  return frame(spec.id, spec.title, svg, readout,
    spec.series.length > 1 ? legend(spec.series.map((x, i) => ({ label: x.name, color: colour(i) }))) : null,
    dataTable(spec.id, `${spec.title}（${spec.unit}）`, head, rows));
}

/** Horizontal bars, each split into its segments (same key, same colour in every row). */
export function stackedBars(spec: StackSpec): HTMLElement {
  const keys: Array<{ key: string; label: string }> = [];
  for (const row of spec.rows) for (const seg of row.segments) {
    if (seg.value > 0 && !keys.some((k) => k.key === seg.key)) keys.push({ key: seg.key, label: seg.label });
  }
  const colourOf = new Map(keys.map((k, i) => [k.key, colour(i)]));
  const W = 640, left = 110, right = 50, top = 10, rowH = 36, bottom = 44;
  const H = top + spec.rows.length * rowH + bottom;
  const plotW = W - left - right;
  const totals = spec.rows.map((r) => r.segments.reduce((a, x) => a + x.value, 0));
  const { top: xTop, step } = niceScale(Math.max(0, ...totals));
  const x = (v: number): number => left + (v / xTop) * plotW;
  const readout = h("p", { class: "chart-readout", "aria-live": "polite" }, t("chartHint"));
  const svg = s("svg", {
    viewBox: `0 0 ${W} ${H}`, class: "chart-svg", role: "group", "aria-labelledby": `${spec.id}-title`,
  });
  const axisY = top + spec.rows.length * rowH;
  for (let v = 0; v <= xTop + 1e-9; v += step) {
    svg.append(s("line", { x1: x(v), x2: x(v), y1: top, y2: axisY, class: v === 0 ? "axis" : "gridline" }));
    svg.append(s("text", { x: x(v), y: axisY + 16, "text-anchor": "middle", class: "tick" }, num(Math.round(v * 1e6) / 1e6)));
  }
  svg.append(s("text", { x: left + plotW / 2, y: H - 6, "text-anchor": "middle", class: "axis-title" }, spec.xLabel));
  spec.rows.forEach((row, ri) => {
    const y0 = top + ri * rowH + 6;
    const g = s("g", { class: "stack", "data-row": row.key });
    g.append(s("text", { x: left - 8, y: y0 + 17, "text-anchor": "end", class: "tick" }, row.label));
    let at = 0;
    for (const seg of row.segments) {
      if (seg.value <= 0) continue;
      const words = `${row.label} · ${seg.label}：${num(seg.value)} ${spec.unit}`;
      g.append(bar(s("rect", {
        x: x(at), y: y0, width: Math.max(x(at + seg.value) - x(at), 1), height: rowH - 12,
        fill: colourOf.get(seg.key), class: "bar", "data-series": seg.key, "data-row": row.key, "data-value": seg.value,
      }), words, readout));
      at += seg.value;
    }
    g.append(s("text", { x: x(at) + 6, y: y0 + 17, class: "tick total" }, num(totals[ri] ?? 0)));
    svg.append(g);
  });
  const head = [t("chartRow"), ...keys.map((k) => k.label), t("chartTotal")];
  const rows = spec.rows.map((r, ri) => [r.label,
    ...keys.map((k) => num(r.segments.find((x) => x.key === k.key)?.value ?? 0)), num(totals[ri] ?? 0)]);
  return frame(spec.id, spec.title, svg, readout,
    legend(keys.map((k) => ({ label: k.label, color: colourOf.get(k.key)! }))),
    dataTable(spec.id, `${spec.title}（${spec.unit}）`, head, rows));
}
