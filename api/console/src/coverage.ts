// Coverage (GetCoverage, GetDutyStatus): per contract area and month, the quota met or not,
// the weeks, the visited and unvisited targets and the five-to-one duty, as a colouring of the
// areas on the map (with a legend) and a sortable table; a month picker.
import type { ExpressionSpecification } from "maplibre-gl";
import { type Area, type ConsoleConfig, type Schemas, api } from "./api";
import { h } from "./dom";
import { type Word, t } from "./i18n";
import { areaFeatures, boxOf, reviewMap } from "./reviewmap";
import { QUOTA_COLORS, type QuotaState, quotaState } from "./quota";
import { failure, fixed, loading, monthRange } from "./view";

type Coverage = Schemas["Coverage"];
type AreaCoverage = Schemas["AreaCoverage"];
type SiteDuty = Schemas["SiteDuty"];

interface Column {
  key: string;
  word: Word;
  value: (a: AreaCoverage) => number | string;
  show: (a: AreaCoverage) => string;
  numeric: boolean;
}

const STATE_ORDER: Record<QuotaState, number> = { not_met: 0, met: 1, no_quota: 2 };

const COLUMNS: Column[] = [
  { key: "code", word: "col_code", value: (a) => a.code, show: (a) => a.code, numeric: false },
  { key: "name", word: "col_name", value: (a) => a.name, show: (a) => a.name, numeric: false },
  { key: "grade", word: "col_grade", value: (a) => a.grade, show: (a) => String(a.grade), numeric: true },
  { key: "status", word: "col_status", value: (a) => STATE_ORDER[quotaState(a)], show: (a) => t(`q_${quotaState(a)}`), numeric: false },
  { key: "patrols", word: "col_patrols", value: (a) => a.patrols, show: (a) => String(a.patrols), numeric: true },
  { key: "quota", word: "col_quota", value: (a) => a.requirement.minPerMonth, show: (a) => String(a.requirement.minPerMonth), numeric: true },
  { key: "weeks", word: "col_weeks", value: (a) => a.weeksMet, show: (a) => `${a.weeksMet}/${a.weeksTotal}`, numeric: true },
  { key: "night", word: "col_night", value: (a) => a.nightPatrols, show: (a) => `${a.nightPatrols}/${a.requirement.minNightPerMonth}`, numeric: true },
  { key: "km", word: "col_km", value: (a) => a.distanceKm, show: (a) => fixed(a.distanceKm), numeric: true },
  { key: "hours", word: "col_hours", value: (a) => a.hours, show: (a) => fixed(a.hours), numeric: true },
  { key: "visited", word: "col_visited", value: (a) => a.targetsVisited.length, show: (a) => String(a.targetsVisited.length), numeric: true },
  { key: "unvisited", word: "col_unvisited", value: (a) => a.targetsNotVisited.length, show: (a) => String(a.targetsNotVisited.length), numeric: true },
  {
    key: "duty", word: "col_duty",
    value: (a) => (a.duty ? a.duty.ratio : -1),
    show: (a) => (a.duty ? `${a.duty.membersCompliant}/${a.duty.members}（${Math.round(a.duty.ratio * 100)}%）` : "—"),
    numeric: true,
  },
];

function table(areas: AreaCoverage[], onPick: (a: AreaCoverage) => void): HTMLElement {
  let sortKey = "code";
  let ascending = true;
  const body = h("tbody");
  const heads = COLUMNS.map((c) => {
    const button = h("button", { type: "button", class: "sort", "data-sort": c.key }, t(c.word));
    const th = h("th", { scope: "col", "aria-sort": c.key === sortKey ? "ascending" : "none" }, button);
    button.addEventListener("click", () => {
      ascending = c.key === sortKey ? !ascending : true;
      sortKey = c.key;
      draw();
      for (const other of heads) other.setAttribute("aria-sort", "none");
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    });
    return th;
  });
  function draw(): void {
    const col = COLUMNS.find((c) => c.key === sortKey)!;
    const rows = [...areas].sort((x, y) => {
      const a = col.value(x), b = col.value(y);
      const order = typeof a === "number" && typeof b === "number" ? a - b : String(a).localeCompare(String(b), "zh-CN");
      return ascending ? order : -order;
    });
    body.replaceChildren(...rows.map((a) => {
      const state = quotaState(a);
      const tr = h("tr", { "data-area-id": a.areaId, "data-state": state }, ...COLUMNS.map((c) => {
        if (c.key === "code") {
          const go = h("button", { type: "button", class: "link", title: t("map") }, a.code);
          go.addEventListener("click", () => onPick(a));
          return h("td", { "data-col": c.key }, go);
        }
        if (c.key === "status") {
          const dot = h("span", { class: "swatch", "data-color": QUOTA_COLORS[state] });
          return h("td", { "data-col": c.key }, dot, " ", c.show(a));
        }
        return h("td", { "data-col": c.key, class: c.numeric ? "num" : undefined }, c.show(a));
      }));
      return tr;
    }));
    body.querySelectorAll<HTMLElement>(".swatch").forEach((s) => { s.style.background = s.dataset.color ?? ""; });
  }
  draw();
  return h("table", { class: "grid", id: "coverage-table", "aria-describedby": "coverage-caption" },
    h("caption", { id: "coverage-caption" }, `${t("coverageTable")} · ${t("sortHint")}`),
    h("thead", {}, h("tr", {}, ...heads)), body);
}

function legend(): HTMLElement {
  const items = (Object.keys(QUOTA_COLORS) as QuotaState[]).map((s) =>
    h("li", {}, h("span", { class: "swatch", "data-color": QUOTA_COLORS[s] }), t(`q_${s}`)));
  const box = h("section", { class: "legend", id: "coverage-legend", "aria-labelledby": "coverage-legend-title" },
    h("h2", { id: "coverage-legend-title" }, t("quotaLegend")), h("ul", {}, ...items));
  box.querySelectorAll<HTMLElement>(".swatch").forEach((s) => { s.style.background = s.dataset.color ?? ""; });
  return box;
}

function dutyList(sites: SiteDuty[]): HTMLElement {
  if (sites.length === 0) return h("p", { class: "muted" }, t("dutyNone"));
  return h("ul", { class: "duty", id: "duty-list" }, ...sites.map((s) => {
    const late = s.members.filter((m) => m.overdue).map((m) => m.name);
    return h("li", { "data-site-id": s.siteId, class: late.length ? "late" : undefined },
      h("strong", {}, s.siteName), " · ",
      late.length ? `${t("overdueMembers")} ${late.length}：${late.join("、")}` : t("dutyAllOk"));
  }));
}

function totals(cov: Coverage): HTMLElement {
  const duty = cov.duty ? `${cov.duty.membersCompliant}/${cov.duty.members}` : "—";
  return h("p", { class: "totals", id: "coverage-totals" },
    `${t("monthTotals")}：${t("col_patrols")} ${cov.patrols} · ${t("col_km")} ${fixed(cov.distanceKm)} · `
    + `${t("col_hours")} ${fixed(cov.hours)} · ${t("inspectorsCount")} ${cov.inspectors.length} · ${t("col_duty")} ${duty}`);
}

export async function coveragePage(main: HTMLElement, month?: string): Promise<void> {
  main.replaceChildren(loading());
  let cov: Coverage, areas: Area[], config: ConsoleConfig;
  try {
    [cov, areas, config] = await Promise.all([
      api<Coverage>("GET", `/coverage${month ? `?month=${encodeURIComponent(month)}` : ""}`),
      api<Area[]>("GET", "/areas"),
      api<ConsoleConfig>("GET", "/console/config"),
    ]);
  } catch (err) {
    main.replaceChildren(failure(err, () => void coveragePage(main, month)));
    return;
  }
  if (!main.isConnected) return;  // another page was opened meanwhile
  const [start, end] = monthRange(cov.month);
  const duty = h("section", { class: "card", "aria-labelledby": "duty-title" },
    h("h2", { id: "duty-title" }, t("dutyTitle")), loading());
  api<SiteDuty[]>("GET", `/duty-status?start=${encodeURIComponent(start)}&end=${encodeURIComponent(end)}`)
    .then((sites) => duty.replaceChildren(duty.firstChild!, dutyList(sites)))
    .catch((err: unknown) => duty.replaceChildren(duty.firstChild!, failure(err, () => void coveragePage(main, cov.month))));

  const picker = h("input", { type: "month", id: "coverage-month", value: cov.month, required: true });
  const form = h("form", { class: "toolbar" },
    h("h1", {}, t("coverage")),
    h("label", { for: "coverage-month" }, t("month")), picker,
    h("button", { type: "submit" }, t("showMonth")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (picker.value) void coveragePage(main, picker.value);
  });
  picker.addEventListener("change", () => { if (picker.value) void coveragePage(main, picker.value); });

  const byId = new Map(cov.areas.map((a) => [a.areaId, a]));
  const shown = areas.filter((a) => byId.has(a.id));
  const container = h("div", { class: "review-map", id: "coverage-map" });
  const mapBox = h("div", { class: "map-box" }, container, legend());
  const list = cov.areas.length
    ? table(cov.areas, (a) => {
        const area = areas.find((x) => x.id === a.areaId);
        const fit = area ? boxOf([area.geometry]) : null;
        if (fit) view.map.fitBounds(fit, { padding: 30 });
      })
    : h("p", { class: "muted" }, t("noAreas"));
  main.replaceChildren(h("div", { class: "review-page coverage-page" },
    form, mapBox, totals(cov), h("div", { class: "table-wrap" }, list), duty));
  const fill: ExpressionSpecification = ["match", ["get", "quota"],
    "met", QUOTA_COLORS.met, "not_met", QUOTA_COLORS.not_met, QUOTA_COLORS.no_quota];
  const view = reviewMap(container, config,
    areaFeatures(shown, (a) => {
      const c = byId.get(a.id)!;
      return { quota: quotaState(c), patrols: c.patrols, quota_min: c.requirement.minPerMonth };
    }),
    {},
    [
      { id: "coverage-fill", type: "fill", source: "areas", paint: { "fill-color": fill, "fill-opacity": 0.45 } },
      { id: "coverage-line", type: "line", source: "areas", paint: { "line-color": fill, "line-width": 2 } },
    ],
    boxOf(shown.map((a) => a.geometry)));
}
