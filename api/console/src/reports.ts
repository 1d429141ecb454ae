// Statistics and reports (统计报表), for captains and admins: a period (a week, month, quarter,
// half-year, year, or a range of days) and a grouping; every figure of GetStatistics by section
// beside the previous period and the same period last year, each with the list behind it;
// three charts (patrols per week and contract area, clues by channel, cases by stage); and the
// reports (ListReports) with generation (CreateReport, followed by polling GetReport) and
// their files (DownloadReport).
import { type Schemas, api, apiFile } from "./api";
import { barChart, num, stackedBars } from "./charts";
import { h } from "./dom";
import { type Word, fill, t, tr } from "./i18n";
import { failure, loading, localMinute, onLeave, saveFile, today } from "./view";

type Statistics = Schemas["Statistics"];
type Figure = Schemas["StatisticsFigure"];
type Report = Schemas["Report"];
type Section = Schemas["StatisticsSectionName"];
type Template = Schemas["ReportTemplateName"];
type Format = Schemas["ReportFormatName"];
type Kind = Schemas["StatisticsPeriodName"] | "range";
type Grouping = Schemas["StatisticsGroupName"];

export const SECTIONS: readonly Section[] = [
  "patrols", "findings", "stops", "duty", "tip_offs", "petitions", "satellite", "cases", "referrals"];
const KINDS: readonly Kind[] = ["week", "month", "quarter", "half", "year", "range"];
const GROUPINGS: readonly Grouping[] = ["county", "township", "area", "person"];
const TEMPLATES: readonly Template[] = ["monthly", "quarterly_tables", "annual_tables", "joint_meeting_bulletin"];
const FORMATS: readonly Format[] = ["xlsx", "pdf", "csv"];
const POLL_MS = 3000;
/** Up to this many days the patrol chart has a bar group per week, beyond it per month. */
const WEEKLY_UP_TO_DAYS = 98;
/** GetStatistics calls the patrol chart makes at once. */
const PARALLEL = 4;

/** The lists behind the figures that the console has a page for (else the API path is shown). */
const PAGES: Array<[string, string, Word]> = [
  ["/api/v1/satellite/tasks", "satellite", "satellite"],
  ["/api/v1/alerts", "alerts", "alerts"],
];

interface Query {
  kind: Kind;
  date: string;
  from: string;
  to: string;
  groupBy: Grouping;
}

// what was shown last, kept while the tab is open
let shown: Query | null = null;

function statisticsQuery(q: Pick<Query, "kind" | "date" | "from" | "to">, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams(q.kind === "range" ? { from: q.from, to: q.to } : { period: q.kind, date: q.date });
  for (const [k, v] of Object.entries(extra)) params.append(k, v);
  return `/statistics?${params.toString()}`;
}

// -- days ------------------------------------------------------------------------------------------
function day(iso: string): Date {
  return new Date(`${iso}T00:00:00Z`);
}

function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

function plusDays(d: Date, n: number): Date {
  return new Date(d.getTime() + n * 86_400_000);
}

/** The ISO week number of a day (Monday first; week 1 holds the year's first Thursday). */
export function isoWeek(d: Date): number {
  const thursday = plusDays(d, 3 - ((d.getUTCDay() + 6) % 7));
  const jan1 = Date.UTC(thursday.getUTCFullYear(), 0, 1);
  return Math.floor((thursday.getTime() - jan1) / 86_400_000 / 7) + 1;
}

interface Bucket {
  key: string;
  label: string;
  title: string;
  from: string;
  to: string;
}

/** The period's weeks (Monday to Sunday, cut at its ends), or its months when it is long. */
export function buckets(from: string, to: string): { weekly: boolean; parts: Bucket[] } {
  const start = day(from), end = day(to);
  const out: Bucket[] = [];
  const days = (end.getTime() - start.getTime()) / 86_400_000 + 1;
  if (days <= WEEKLY_UP_TO_DAYS) {
    let monday = plusDays(start, -((start.getUTCDay() + 6) % 7));
    while (monday <= end) {
      const lo = monday < start ? start : monday;
      const sunday = plusDays(monday, 6);
      const hi = sunday > end ? end : sunday;
      const week = isoWeek(monday);
      out.push({
        key: isoDay(lo), label: fill("weekLabel", { n: week }),
        title: `${fill("weekLabel", { n: week })}（${isoDay(lo).slice(5)}—${isoDay(hi).slice(5)}）`,
        from: isoDay(lo), to: isoDay(hi),
      });
      monday = plusDays(monday, 7);
    }
    return { weekly: true, parts: out };
  }
  let first = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), 1));
  while (first <= end) {
    const next = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 1));
    const lo = first < start ? start : first;
    const last = plusDays(next, -1);
    const hi = last > end ? end : last;
    const label = fill("monthLabel", { y: first.getUTCFullYear(), m: first.getUTCMonth() + 1 });
    out.push({ key: isoDay(lo), label, title: `${label}（${isoDay(lo).slice(5)}—${isoDay(hi).slice(5)}）`, from: isoDay(lo), to: isoDay(hi) });
    first = next;
  }
  return { weekly: false, parts: out };
}

async function inTurn<T, R>(items: T[], parallel: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));
  return out;
}

// -- the figures -----------------------------------------------------------------------------------
/** ``+3（+12.5%）`` / ``−2（−40.0%）`` / ``0``: a sign and an arrow, not colour alone. */
export function change(value: number | null | undefined, base: number | null | undefined): { text: string; trend: string } {
  if (value === null || value === undefined || base === null || base === undefined) return { text: "—", trend: "none" };
  const diff = Math.round((value - base) * 100) / 100;
  if (diff === 0) return { text: "0", trend: "same" };
  const sign = diff > 0 ? "+" : "−";
  const pct = base !== 0 ? `（${sign}${(Math.abs(diff / base) * 100).toFixed(1)}%）` : "";
  return { text: `${diff > 0 ? "▲" : "▼"} ${sign}${num(Math.abs(diff))}${pct}`, trend: diff > 0 ? "up" : "down" };
}

function linkCell(f: Figure): HTMLElement {
  const page = PAGES.find(([path]) => f.link.startsWith(path));
  if (page) return h("td", { "data-col": "link" }, h("a", { href: `#/${page[1]}`, "data-link": f.link, title: f.link }, t(page[2])));
  return h("td", { "data-col": "link" }, h("code", { class: "api-link", title: t("apiLinkHint") }, f.link));
}

function figureRow(f: Figure): HTMLElement {
  const prev = change(f.value, f.previous);
  const yoy = change(f.value, f.lastYear);
  return h("tr", { "data-key": f.key },
    h("th", { scope: "row", "data-col": "label" }, f.label),
    h("td", { "data-col": "unit" }, f.unit),
    h("td", { "data-col": "value", class: "num" }, num(f.value)),
    h("td", { "data-col": "previous", class: "num" }, num(f.previous)),
    h("td", { "data-col": "change", class: `num trend-${prev.trend}` }, prev.text),
    h("td", { "data-col": "lastYear", class: "num" }, num(f.lastYear)),
    h("td", { "data-col": "yoy", class: `num trend-${yoy.trend}` }, yoy.text),
    linkCell(f));
}

function groupTable(section: Section, stats: Statistics): HTMLElement | null {
  const groups = (stats.groups ?? []).filter((g) => g.figures.some((f) => f.section === section));
  if (!groups.length) return null;
  const keys = groups[0]!.figures.filter((f) => f.section === section);
  return h("div", { class: "table-wrap" }, h("table", { class: "grid", id: `groups-${section}` },
    h("caption", {}, fill("byGroup", { group: t(`grouping_${stats.groupBy}` as Word) })),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t(`grouping_${stats.groupBy}` as Word)),
      ...keys.map((f) => h("th", { scope: "col" }, `${f.label}（${f.unit}）`)))),
    h("tbody", {}, ...groups.map((g) => h("tr", { "data-group": g.key },
      h("th", { scope: "row" }, g.name),
      ...keys.map((k) => h("td", { class: "num", "data-key": k.key },
        num(g.figures.find((f) => f.key === k.key)?.value))))))));
}

function sectionCard(section: Section, stats: Statistics): HTMLElement | null {
  const figures = stats.figures.filter((f) => f.section === section);
  if (!figures.length) return null;
  return h("section", { class: "card figures-card", "data-section": section, "aria-labelledby": `sec-${section}` },
    h("h2", { id: `sec-${section}` }, tr(`sec_${section}`)),
    h("div", { class: "table-wrap" }, h("table", { class: "grid figures", id: `fig-${section}` },
      h("thead", {}, h("tr", {},
        ...(["sf_label", "sf_unit", "sf_value", "sf_previous", "sf_change", "sf_last_year", "sf_yoy", "sf_link"] as Word[])
          .map((w) => h("th", { scope: "col" }, t(w))))),
      h("tbody", {}, ...figures.map(figureRow)))),
    groupTable(section, stats));
}

function periodLine(stats: Statistics): HTMLElement {
  const p = (x: Schemas["StatisticsPeriod"]): string => `${x.label}（${x.dateFrom} 至 ${x.dateTo}）`;
  return h("p", { class: "period-line", id: "stats-period", "data-key": stats.period.key },
    h("strong", {}, p(stats.period)), ` · ${t("sf_previous")}：${p(stats.previous)} · ${t("sf_last_year")}：${p(stats.lastYear)}`);
}

// -- the charts ------------------------------------------------------------------------------------
function prefixed(figures: Figure[], prefix: string): Figure[] {
  return figures.filter((f) => f.key.startsWith(prefix));
}

function after(label: string): string {
  const i = label.indexOf("：");
  return i >= 0 ? label.slice(i + 1) : label;
}

function channelChart(stats: Statistics): HTMLElement {
  const channels = prefixed(stats.figures, "tip_offs.channel.");
  return barChart({
    id: "chart-channels", title: t("chartChannels"), unit: t("unitPieces"),
    xLabel: t("axisChannel"), yLabel: t("axisClues"),
    categories: channels.map((f) => ({ key: f.key.split(".").pop()!, label: after(f.label) })),
    series: [{ key: "value", name: stats.period.label, values: channels.map((f) => f.value ?? 0) }],
  });
}

function stageChart(stats: Statistics): HTMLElement {
  const stages = prefixed(stats.figures, "cases.stage.");
  const row = (key: "value" | "previous" | "lastYear", label: string): Parameters<typeof stackedBars>[0]["rows"][number] => ({
    key, label,
    segments: stages.map((f) => ({ key: f.key.split(".").pop()!, label: after(f.label), value: f[key] ?? 0 })),
  });
  return stackedBars({
    id: "chart-stages", title: t("chartStages"), unit: t("unitPieces"), xLabel: t("axisCases"),
    rows: [row("value", t("stageNow")), row("previous", t("stagePrevious")), row("lastYear", t("stageLastYear"))],
  });
}

async function patrolChart(box: HTMLElement, stats: Statistics): Promise<void> {
  const { weekly, parts } = buckets(stats.period.dateFrom, stats.period.dateTo);
  box.replaceChildren(loading());
  let answers: Statistics[];
  try {
    answers = await inTurn(parts, PARALLEL, (b) => api<Statistics>("GET",
      statisticsQuery({ kind: "range", date: "", from: b.from, to: b.to }, { group_by: "area", section: "patrols" })));
  } catch (err) {
    box.replaceChildren(failure(err, () => void patrolChart(box, stats)));
    return;
  }
  const areas = new Map<string, string>();
  for (const a of answers) for (const g of a.groups ?? []) areas.set(g.key, g.name);
  const series = [...areas.entries()]
    .sort((x, y) => x[1].localeCompare(y[1], "zh-CN"))
    .map(([key, name]) => ({
      key: key || "none", name,
      values: answers.map((a) => (a.groups ?? []).find((g) => g.key === key)?.figures.find((f) => f.key === "patrols.count")?.value ?? 0),
    }));
  box.replaceChildren(barChart({
    id: "chart-patrols", title: t(weekly ? "chartPatrolsWeekly" : "chartPatrolsMonthly"), unit: t("unitTimes"),
    xLabel: t(weekly ? "axisWeek" : "axisMonth"), yLabel: t("axisPatrols"),
    categories: parts.map((b) => ({ key: b.key, label: b.label, title: b.title })),
    series,
  }));
  if (!series.length) box.append(h("p", { class: "muted" }, t("noAreaPatrols")));
}

// -- the reports -----------------------------------------------------------------------------------
interface ReportsCtx {
  body: HTMLElement;
  status: HTMLElement;
  pending: Set<string>;
  timer: number | null;
}

function reportRow(ctx: ReportsCtx, r: Report): HTMLElement {
  const files = r.status === "done" ? FORMATS.filter((f) => (r.files ?? []).some((x) => x.format === f)) : [];
  const buttons = files.map((format) => {
    const b = h("button", { type: "button", class: "download", "data-format": format,
      "aria-label": `${t("download")} ${r.templateLabel} ${r.periodLabel} ${format.toUpperCase()}` }, format.toUpperCase());
    b.addEventListener("click", () => {
      b.disabled = true;
      ctx.status.textContent = t("downloading");
      apiFile(`/reports/${r.id}/file?format=${format}`, `${r.templateLabel}-${r.periodKey}.${format}`)
        .then(({ blob, name }) => {
          saveFile(blob, name);
          ctx.status.textContent = `${t("downloaded")}：${name}`;
        })
        .catch((err: unknown) => { ctx.status.textContent = `${t("actionFailed")}：${err instanceof Error ? err.message : String(err)}`; })
        .finally(() => { b.disabled = false; });
    });
    return b;
  });
  const state = h("span", { class: `report-status rs-${r.status}` }, tr(`rs_${r.status}`));
  return h("tr", { "data-report-id": r.id, "data-status": r.status, "data-template": r.template, "data-period": r.periodKey },
    h("td", { "data-col": "template" }, r.templateLabel),
    h("td", { "data-col": "period" }, r.periodLabel),
    h("td", { "data-col": "status" }, state, r.status === "failed" && r.error ? ` ${r.error}` : ""),
    h("td", { "data-col": "generatedAt", class: "nowrap" }, r.generatedAt ? localMinute(r.generatedAt) : "—"),
    h("td", { "data-col": "dueOn", class: r.overdue ? "nowrap late" : "nowrap" },
      r.dueOn, r.overdue ? ` · ⚠ ${t("overdueMark")}` : ""),
    h("td", { "data-col": "files", class: "downloads" }, ...buttons));
}

function showReport(ctx: ReportsCtx, r: Report): void {
  const row = reportRow(ctx, r);
  const old = ctx.body.querySelector(`tr[data-report-id="${r.id}"]`);
  if (old) old.replaceWith(row);
  else ctx.body.prepend(row);
  ctx.body.closest("table")?.removeAttribute("hidden");
  ctx.body.closest(".card")?.querySelector("#reports-empty")?.setAttribute("hidden", "");
  if (r.status === "queued" || r.status === "running") ctx.pending.add(r.id);
  else ctx.pending.delete(r.id);
}

function poll(ctx: ReportsCtx): void {
  if (ctx.timer !== null) return;
  const tick = (): void => {
    if (!ctx.body.isConnected || ctx.pending.size === 0) {
      if (ctx.timer !== null) window.clearInterval(ctx.timer);
      ctx.timer = null;
      return;
    }
    for (const id of [...ctx.pending]) {
      api<Report>("GET", `/reports/${id}`).then((r) => showReport(ctx, r)).catch(() => {
        // a failed poll is tried again at the next tick
      });
    }
  };
  ctx.timer = window.setInterval(tick, POLL_MS);
  onLeave(() => {
    if (ctx.timer !== null) window.clearInterval(ctx.timer);
    ctx.timer = null;
  });
}

function reportsCard(): HTMLElement {
  const template = h("select", { id: "report-template" },
    ...TEMPLATES.map((x) => h("option", { value: x }, tr(`rt_${x}`))));
  const date = h("input", { type: "date", id: "report-date", value: today(), required: true });
  const submit = h("button", { type: "submit", id: "report-generate" }, t("generate"));
  const status = h("p", { class: "muted", id: "report-status", role: "status" });
  const body = h("tbody");
  const table = h("table", { class: "grid", id: "report-table", hidden: true },
    h("thead", {}, h("tr", {}, ...(["col_report", "col_period", "status", "col_generated", "col_due", "col_files"] as Word[])
      .map((w) => h("th", { scope: "col" }, t(w))))), body);
  const list = h("div", { class: "table-wrap", id: "report-list" }, loading());
  const ctx: ReportsCtx = { body, status, pending: new Set(), timer: null };
  const form = h("form", { class: "toolbar", id: "report-form" },
    h("label", { for: "report-template" }, t("template")), template,
    h("label", { for: "report-date" }, t("periodDate")), date, submit);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!date.value) return;
    submit.disabled = true;
    status.textContent = t("generating");
    api<Report>("POST", "/reports", { template: template.value, date: date.value })
      .then((r) => {
        showReport(ctx, r);
        status.textContent = fill("generateQueued", { name: `${r.templateLabel} ${r.periodLabel}` });
        poll(ctx);
      })
      .catch((err: unknown) => { status.textContent = `${t("actionFailed")}：${err instanceof Error ? err.message : String(err)}`; })
      .finally(() => { submit.disabled = false; });
  });
  const load = (): void => {
    list.replaceChildren(loading());
    api<Report[]>("GET", "/reports").then((reports) => {
      body.replaceChildren();
      for (const r of [...reports].reverse()) showReport(ctx, r);
      table.hidden = reports.length === 0;
      list.replaceChildren(table, h("p", { class: "muted", id: "reports-empty", hidden: reports.length > 0 }, t("noReports")));
      if (ctx.pending.size) poll(ctx);
    }).catch((err: unknown) => list.replaceChildren(failure(err, load)));
  };
  load();
  return h("section", { class: "card", id: "reports-card", "aria-labelledby": "reports-title" },
    h("h2", { id: "reports-title" }, t("reportsTitle")), form, status, list);
}

// -- the page --------------------------------------------------------------------------------------
function pickerForm(main: HTMLElement, q: Query): HTMLElement {
  const kind = h("select", { id: "stats-kind" },
    ...KINDS.map((k) => h("option", { value: k, selected: k === q.kind }, tr(`pk_${k}`))));
  const date = h("input", { type: "date", id: "stats-date", value: q.date });
  const from = h("input", { type: "date", id: "stats-from", value: q.from });
  const to = h("input", { type: "date", id: "stats-to", value: q.to });
  const group = h("select", { id: "stats-group" },
    ...GROUPINGS.map((g) => h("option", { value: g, selected: g === q.groupBy }, tr(`grouping_${g}`))));
  const single = h("span", { class: "field" }, h("label", { for: "stats-date" }, t("periodDate")), date);
  const range = h("span", { class: "field" },
    h("label", { for: "stats-from" }, t("dateFrom")), from, h("label", { for: "stats-to" }, t("dateTo")), to);
  const toggle = (): void => {
    single.hidden = kind.value === "range";
    range.hidden = kind.value !== "range";
  };
  toggle();
  kind.addEventListener("change", toggle);
  const form = h("form", { class: "toolbar", id: "stats-form" },
    h("h1", {}, t("reports")),
    h("label", { for: "stats-kind" }, t("periodKind")), kind, single, range,
    h("label", { for: "stats-group" }, t("grouping")), group,
    h("button", { type: "submit" }, t("showMonth")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const next: Query = { kind: kind.value as Kind, date: date.value || today(), from: from.value, to: to.value, groupBy: group.value as Grouping };
    if (next.kind === "range" && (!next.from || !next.to)) return;
    void reportsPage(main, next);
  });
  return form;
}

export async function reportsPage(main: HTMLElement, query?: Query): Promise<void> {
  const d = today();
  const q: Query = query ?? shown ?? { kind: "month", date: d, from: `${d.slice(0, 8)}01`, to: d, groupBy: "county" };
  shown = q;
  const period = h("div", { id: "stats-period-box" });
  const figures = h("div", { class: "figures-list", id: "stats-figures", "aria-live": "polite" }, loading());
  const patrols = h("div", { class: "chart-box", id: "chart-patrols-box" }, loading());
  const others = h("div", { class: "chart-box", id: "chart-others-box" });
  main.replaceChildren(h("div", { class: "review-page reports-page" },
    pickerForm(main, q),
    period,
    h("section", { class: "card charts", "aria-labelledby": "charts-title" },
      h("h2", { id: "charts-title" }, t("chartsTitle")), h("div", { class: "chart-grid" }, patrols, others)),
    figures,
    reportsCard()));
  let stats: Statistics;
  try {
    stats = await api<Statistics>("GET", statisticsQuery(q, q.groupBy === "county" ? {} : { group_by: q.groupBy }));
  } catch (err) {
    const retry = (): void => void reportsPage(main, q);
    figures.replaceChildren(failure(err, retry));
    patrols.replaceChildren();
    return;
  }
  if (!main.isConnected) return;
  period.replaceChildren(periodLine(stats));
  figures.replaceChildren(
    stats.missing?.length ? h("p", { class: "muted" }, `${t("missingFigures")}：${stats.missing.join("、")}`) : "",
    ...SECTIONS.map((s) => sectionCard(s, stats)).filter((x): x is HTMLElement => x !== null));
  others.replaceChildren(channelChart(stats), stageChart(stats));
  await patrolChart(patrols, stats);
}
