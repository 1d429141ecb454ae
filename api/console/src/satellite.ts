// The satellite campaign (卫片执法) of a batch, for captains and admins: the batch picker with
// its due dates, counts by status and downloads (ExportSatelliteBatch); the batch's polygons on
// the map coloured by status over the contract areas; the figures per township
// (GetSatelliteFigures) with the accountability line; the task list (ListSatelliteTasks) with
// submission and assignment of the selected tasks; and a task's panel (GetSatelliteTask) with
// the steps its state allows: a field result entered here, the review, the case, reopening.
import type { ExpressionSpecification, LngLatBoundsLike } from "maplibre-gl";
import { ApiError, type Area, type ConsoleConfig, type Schemas, api, apiFile, savedMe, uuid7 } from "./api";
import { h, questions } from "./dom";
import { type Word, fill, t, tr } from "./i18n";
import { type Collection, type Geometry, type ReviewMap, areaFeatures, boxOf, collection, reviewMap } from "./reviewmap";
import { failure, fixed, loading, localMinute, localTime, problemText, saveFile } from "./view";

type Batch = Schemas["SatelliteBatch"];
type Figures = Schemas["SatelliteFigures"];
type FigureRow = Schemas["SatelliteFigureRow"];
type Summary = Schemas["SatelliteTaskSummary"];
type TaskPage = Schemas["SatelliteTaskPage"];
type Task = Schemas["SatelliteTask"];
type Result = Schemas["SatelliteResult"];
type ResultCreate = Schemas["SatelliteResultCreate"];
type User = Schemas["User"];
export type Status = Schemas["SatelliteTaskStatusName"];
type Outcome = Schemas["SatelliteOutcomeName"];

export const STATUSES: readonly Status[] = ["unassigned", "assigned", "verified", "sent_back", "passed", "submitted"];
export const STATUS_COLORS: Record<Status, string> = {
  unassigned: "#9e9e9e",
  assigned: "#1e88e5",
  verified: "#f9a825",
  sent_back: "#8e24aa",
  passed: "#2e7d32",
  submitted: "#00695c",
};
const OVERDUE_COLOR = "#d32f2f";
const COUNT_KEY: Record<Status, keyof Schemas["SatelliteTaskCounts"]> = {
  unassigned: "unassigned", assigned: "assigned", verified: "verified",
  sent_back: "sentBack", passed: "passed", submitted: "submitted",
};
const OUTCOMES: readonly Outcome[] = ["legal", "not_new", "illegal"];
const PROOFS: readonly Schemas["ProofTypeName"][] = ["farmland_conversion", "land_swap", "sea_area", "unused_land", "other"];
const NOT_NEW: readonly Schemas["SatelliteNotNewKindName"][] = [
  "agricultural_facility", "temporary_use", "rural_road", "no_change", "pre_existing", "other"];
const VIOLATORS: readonly Schemas["ViolatorTypeName"][] = ["person", "organisation", "village_collective", "government"];
const USES: readonly Schemas["SatelliteLandUseName"][] = [
  "housing", "industrial", "commercial", "public", "transport", "water", "mining", "agricultural", "other"];
const BUILD: readonly Schemas["SatelliteConstructionStatusName"][] = ["levelled", "partly_built", "fully_built"];
/** Results may be entered while a field result is still due, and replaced until the review. */
const RECORDABLE: readonly Status[] = ["unassigned", "assigned", "sent_back", "verified"];
const PAGE = 100;
const ALL_PAGE = 1000;

interface Filter {
  status: Status | "";
  township: string;
  overdue: boolean;
}

interface Ctx {
  main: HTMLElement;
  batches: Batch[];
  batch: Batch;
  figures: Figures;
  areas: Map<string, Area>;
  users: Map<string, User>;
  townships: Map<string, string>;
  tasks: Map<string, Summary>;  // every task of the batch, for the map and the names
  shapes: Map<string, Geometry>;
  view: ReviewMap | null;
  filter: Filter;
  selected: Set<string>;
  current: string | null;
  // the parts redrawn after a step
  batchCard: HTMLElement;
  figuresCard: HTMLElement;
  tableBox: HTMLElement;
  tableAsked: ReturnType<typeof questions>;  // an older table answer arriving late is dropped
  panel: HTMLElement;
  actionStatus: HTMLElement;
}

// the batch shown last and its polygons' shapes, kept while the tab is open
let shownBatch: string | null = null;
const shapeCache = new Map<string, Map<string, Geometry>>();

// -- small helpers ---------------------------------------------------------------------------------
export function mu(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : fixed(value, 2);
}

export function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : `${fixed(value * 100, 1)}%`;
}

function statusWord(s: Status): string {
  return tr(`sst_${s}`);
}

function paint(root: ParentNode): void {
  root.querySelectorAll<HTMLElement>(".swatch[data-color]").forEach((s) => { s.style.background = s.dataset.color ?? ""; });
}

function swatch(s: Status): HTMLElement {
  return h("span", { class: "swatch", "data-color": STATUS_COLORS[s] });
}

function nameOf(ctx: Ctx, userId: string | null | undefined): string {
  return userId ? ctx.users.get(userId)?.displayName ?? "—" : "—";
}

async function allTasks(batchId: string): Promise<Map<string, Summary>> {
  const found = new Map<string, Summary>();
  let cursor: string | null | undefined = null;
  do {
    const query = new URLSearchParams({ batch_id: batchId, limit: String(ALL_PAGE) });
    if (cursor) query.set("cursor", cursor);
    const page: TaskPage = await api<TaskPage>("GET", `/satellite/tasks?${query.toString()}`);
    for (const task of page.items) found.set(task.id, task);
    cursor = page.nextCursor;
  } while (cursor);
  return found;
}

/** The polygons of a batch: from its GeoJSON export, once per tab; a polygon the export gives
 * without a shape is asked of GetSatelliteTask. */
async function shapesOf(batchId: string, taskIds: string[]): Promise<Map<string, Geometry>> {
  const cached = shapeCache.get(batchId);
  if (cached && taskIds.every((id) => cached.has(id))) return cached;
  const { blob } = await apiFile(`/satellite/batches/${batchId}/export?format=geojson`, "batch.geojson");
  const doc = JSON.parse(await blob.text()) as GeoJSON.FeatureCollection;
  const shapes = new Map<string, Geometry>();
  for (const f of doc.features) {
    const id = String(f.properties?.task_id ?? f.id ?? "");
    if (id && f.geometry) shapes.set(id, f.geometry);
  }
  const missing = taskIds.filter((id) => !shapes.has(id));
  for (let i = 0; i < missing.length; i += 20) {
    const some = await Promise.all(missing.slice(i, i + 20).map((id) => api<Task>("GET", `/satellite/tasks/${id}`)));
    for (const task of some) shapes.set(task.id, task.polygon as unknown as Geometry);
  }
  shapeCache.set(batchId, shapes);
  return shapes;
}

function features(ctx: Ctx): Collection {
  const out: GeoJSON.Feature[] = [];
  for (const task of ctx.tasks.values()) {
    const geometry = ctx.shapes.get(task.id);
    if (!geometry) continue;
    out.push({
      type: "Feature",
      geometry,
      properties: {
        id: task.id, monitoring_no: task.monitoringNo, status: task.status, overdue: task.overdue,
        township: task.townshipId ? ctx.townships.get(task.townshipId) ?? "" : "",
      },
    });
  }
  return collection(out);
}

// -- the batch: picker, counts, downloads ----------------------------------------------------------
function batchLabel(b: Batch): string {
  return b.name;
}

function batchCard(ctx: Ctx): HTMLElement {
  const b = ctx.batch;
  const counts = h("ul", { class: "counts", id: "sat-counts" },
    ...STATUSES.map((s) => h("li", { "data-status": s }, swatch(s), `${statusWord(s)} `,
      h("strong", {}, String(b.byStatus[COUNT_KEY[s]] ?? 0)))),
    h("li", { "data-status": "overdue", class: b.overdue ? "late" : undefined },
      h("span", { class: "swatch overdue-swatch" }), `${t("overdueCount")} `, h("strong", {}, String(b.overdue))));
  const status = h("span", { class: "muted", id: "sat-download-status", role: "status" });
  const download = (format: "xlsx" | "geojson", word: Word): HTMLButtonElement => {
    const button = h("button", { type: "button", id: `sat-download-${format}` }, t(word));
    button.addEventListener("click", () => {
      button.disabled = true;
      status.textContent = t("downloading");
      apiFile(`/satellite/batches/${b.id}/export?format=${format}`, `${b.name}.${format}`)
        .then(({ blob, name }) => {
          saveFile(blob, name);
          status.textContent = `${t("downloaded")}：${name}`;
        })
        .catch((err: unknown) => { status.textContent = problemText(err); })
        .finally(() => { button.disabled = false; });
    });
    return button;
  };
  const card = h("section", { class: "card batch-card", id: "sat-batch", "aria-label": b.name },
    h("p", { class: "dues" },
      `${t("polygonsCount")} ${b.polygons} · ${t("verifyDue")} `, h("strong", { id: "sat-verify-due" }, b.verifyDueOn),
      ` · ${t("reportDue")} `, h("strong", { id: "sat-report-due" }, b.reportDueOn)),
    counts,
    h("p", { class: "downloads" }, download("xlsx", "downloadXlsx"), download("geojson", "downloadGeojson"), status));
  paint(card);
  return card;
}

// -- the map ---------------------------------------------------------------------------------------
function legend(): HTMLElement {
  const box = h("section", { class: "legend", id: "sat-legend", "aria-labelledby": "sat-legend-title" },
    h("h2", { id: "sat-legend-title" }, t("statusLegend")),
    h("ul", {}, ...STATUSES.map((s) => h("li", {}, swatch(s), statusWord(s))),
      h("li", {}, h("span", { class: "swatch overdue-swatch" }), t("overdueOutline"))));
  paint(box);
  return box;
}

function drawMap(ctx: Ctx, container: HTMLElement, config: ConsoleConfig): void {
  const byStatus: ExpressionSpecification = ["match", ["get", "status"],
    ...STATUSES.flatMap((s) => [s, STATUS_COLORS[s]]), "#9e9e9e"] as unknown as ExpressionSpecification;
  const polygons = features(ctx);
  const fit = boxOf(polygons.features.map((f) => f.geometry)) ?? boxOf([...ctx.areas.values()].map((a) => a.geometry));
  const view = reviewMap(container, config, areaFeatures([...ctx.areas.values()]), { satellite: polygons }, [
    { id: "areas-line", type: "line", source: "areas", paint: { "line-color": "#52606d", "line-width": 1.2, "line-dasharray": [3, 2] } },
    { id: "sat-fill", type: "fill", source: "satellite", paint: { "fill-color": byStatus, "fill-opacity": 0.6 } },
    { id: "sat-line", type: "line", source: "satellite", paint: { "line-color": byStatus, "line-width": 1.5 } },
    {
      id: "sat-overdue", type: "line", source: "satellite", filter: ["==", ["get", "overdue"], true],
      paint: { "line-color": OVERDUE_COLOR, "line-width": 3 },
    },
    { id: "sat-selected", type: "line", source: "satellite", filter: ["==", ["get", "id"], ""], paint: { "line-color": "#111", "line-width": 3.5 } },
  ], fit);
  ctx.view = view;
  view.map.on("click", "sat-fill", (e) => {
    const id = e.features?.[0]?.properties?.id;
    if (id) void openTask(ctx, String(id), false);
  });
  view.map.on("mouseenter", "sat-fill", () => { view.map.getCanvas().style.cursor = "pointer"; });
  view.map.on("mouseleave", "sat-fill", () => { view.map.getCanvas().style.cursor = ""; });
}

function highlight(ctx: Ctx, id: string | null, fly: boolean): void {
  const view = ctx.view;
  if (!view) return;
  const apply = (): void => {
    if (!view.map.getLayer("sat-selected")) return;
    view.map.setFilter("sat-selected", ["==", ["get", "id"], id ?? ""]);
    const shape = id ? ctx.shapes.get(id) : undefined;
    const box = shape ? boxOf([shape]) : null;
    if (fly && box) view.map.fitBounds(box as LngLatBoundsLike, { padding: 80, maxZoom: 13 });
  };
  if (view.map.isStyleLoaded()) apply();
  else void view.ready.then(apply);
}

// -- the figures -----------------------------------------------------------------------------------
const FIGURE_COLUMNS: Array<[string, Word, (r: FigureRow) => string]> = [
  ["polygons", "fig_polygons", (r) => String(r.polygons)],
  ["area", "fig_area", (r) => mu(r.polygonAreaMu)],
  ["verified", "fig_verified", (r) => String(r.verified)],
  ["overdue", "fig_overdue", (r) => String(r.overdue)],
  ["legal", "fig_legal", (r) => String(r.legal)],
  ["legalMu", "fig_legal_mu", (r) => mu(r.legalAreaMu)],
  ["notNew", "fig_not_new", (r) => String(r.notNew)],
  ["notNewMu", "fig_not_new_mu", (r) => mu(r.notNewAreaMu)],
  ["illegal", "fig_illegal", (r) => String(r.illegal)],
  ["illegalMu", "fig_illegal_mu", (r) => mu(r.illegalAreaMu)],
  ["illegalCultivatedMu", "fig_illegal_cultivated", (r) => mu(r.illegalCultivatedMu)],
  ["illegalBasicFarmlandMu", "fig_illegal_basic", (r) => mu(r.illegalBasicFarmlandMu)],
  ["ratio", "fig_ratio", (r) => percent(r.cultivatedRatio)],
];

function figuresCard(f: Figures): HTMLElement {
  const threshold = percent(f.ratioThreshold);
  const row = (r: FigureRow): HTMLElement => h("tr", {
    "data-township-id": r.townshipId ?? "", "data-total": r.total ? "true" : undefined,
    class: [r.total ? "total" : "", r.overThreshold ? "over" : ""].join(" ").trim() || undefined,
  },
  h(r.total ? "th" : "td", { "data-col": "name", scope: r.total ? "row" : undefined },
    r.total ? t("fig_total") : r.name || t("noTownship")),
  ...FIGURE_COLUMNS.map(([key, , show]) => h("td", { "data-col": key, class: "num" }, show(r))),
  h("td", { "data-col": "warning" }, r.overThreshold ? `⚠ ${t("ratioThreshold")} ${threshold}` : ""));
  const total = f.total;
  const ratio = percent(total.cultivatedRatio);
  const warning = total.overThreshold
    ? h("p", { class: "warning", id: "sat-ratio-warning", role: "alert" }, `⚠ ${fill("overThresholdWarning", { ratio, threshold })}`)
    : h("p", { class: "muted", id: "sat-ratio-warning" },
      total.cultivatedRatio === null || total.cultivatedRatio === undefined
        ? t("noRatio") : fill("underThreshold", { ratio, threshold }));
  return h("section", { class: "card", id: "sat-figures-card", "aria-labelledby": "sat-figures-title" },
    h("h2", { id: "sat-figures-title" }, `${t("figuresTitle")}（${f.asOf}）`),
    warning,
    h("div", { class: "table-wrap" }, h("table", { class: "grid figures", id: "sat-figures" },
      h("caption", {}, `${t("ratioThreshold")} ${threshold} · 1 ${t("mu")} = 666.67 m²`),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, t("fig_township")),
        ...FIGURE_COLUMNS.map(([, word]) => h("th", { scope: "col" }, t(word))),
        h("th", { scope: "col" }, t("ratioThreshold")))),
      h("tbody", {}, ...f.townships.map(row), row(total)))));
}

// -- the task table --------------------------------------------------------------------------------
function taskRow(ctx: Ctx, task: Summary): HTMLElement {
  const box = h("input", {
    type: "checkbox", class: "pick", value: task.id, checked: ctx.selected.has(task.id),
    "aria-label": `${t("selectTask")} ${task.monitoringNo}`,
  });
  box.addEventListener("change", () => {
    if (box.checked) ctx.selected.add(task.id);
    else ctx.selected.delete(task.id);
  });
  const open = h("button", { type: "button", class: "link", "data-open": task.id }, task.monitoringNo);
  open.addEventListener("click", () => void openTask(ctx, task.id, true));
  const area = task.areaId ? ctx.areas.get(task.areaId)?.name ?? "—" : "—";
  return h("tr", { "data-task-id": task.id, "data-status": task.status, class: task.id === ctx.current ? "current" : undefined },
    h("td", {}, box),
    h("td", { "data-col": "monitoringNo" }, open),
    h("td", { "data-col": "township" }, task.townshipId ? ctx.townships.get(task.townshipId) ?? "—" : t("noTownship")),
    h("td", { "data-col": "area" }, area),
    h("td", { "data-col": "inspector" }, nameOf(ctx, task.inspectorId)),
    h("td", { "data-col": "status" }, swatch(task.status), " ", statusWord(task.status)),
    h("td", { "data-col": "due", class: task.overdue ? "nowrap late" : "nowrap" },
      task.dueOn, task.overdue ? ` · ${t("overdueMark")}` : ""),
    h("td", { "data-col": "outcome" }, task.outcome ? tr(`so_${task.outcome}`) : "—"),
    h("td", { "data-col": "case" }, task.caseId ? h("a", { href: "#/cases", "data-case-id": task.caseId }, t("openCaseLink")) : "—"));
}

async function loadTable(ctx: Ctx, cursor: string | null = null): Promise<void> {
  const query = new URLSearchParams({ batch_id: ctx.batch.id, limit: String(PAGE) });
  if (ctx.filter.status) query.set("status", ctx.filter.status);
  if (ctx.filter.township) query.set("township_id", ctx.filter.township);
  if (ctx.filter.overdue) query.set("overdue", "true");
  if (cursor) query.set("cursor", cursor);
  const box = ctx.tableBox;
  // a new filter or a refresh asks anew; the next page belongs to the question it continues
  const current = cursor ? ctx.tableAsked.same() : ctx.tableAsked.ask();
  if (!cursor) box.replaceChildren(loading());
  let page: TaskPage;
  try {
    page = await api<TaskPage>("GET", `/satellite/tasks?${query.toString()}`);
  } catch (err) {
    if (current()) box.replaceChildren(failure(err, () => void loadTable(ctx)));
    return;
  }
  if (!current()) return;  // asked again meanwhile: the newer answer shows
  let body = box.querySelector<HTMLElement>("#sat-tasks tbody");
  if (!cursor || !body) {
    if (page.items.length === 0) {
      box.replaceChildren(h("p", { class: "muted", id: "sat-no-tasks" }, t("noTasks")));
      return;
    }
    const all = h("input", { type: "checkbox", id: "sat-select-all", "aria-label": t("selectAll") });
    all.addEventListener("change", () => {
      box.querySelectorAll<HTMLInputElement>("input.pick").forEach((c) => {
        c.checked = all.checked;
        if (all.checked) ctx.selected.add(c.value);
        else ctx.selected.delete(c.value);
      });
    });
    body = h("tbody");
    box.replaceChildren(h("div", { class: "table-wrap" }, h("table", { class: "grid", id: "sat-tasks" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, all),
        ...(["col_monitoring_no", "col_township", "col_area", "col_inspector", "status", "col_due", "col_outcome", "col_case"] as Word[])
          .map((w) => h("th", { scope: "col" }, t(w))))),
      body)));
  }
  body.append(...page.items.map((task) => taskRow(ctx, task)));
  paint(body);
  box.querySelector("#sat-more")?.remove();
  if (page.nextCursor) {
    const more = h("button", { type: "button", id: "sat-more" }, t("moreTasks"));
    const next = page.nextCursor;
    more.addEventListener("click", () => void loadTable(ctx, next));
    box.append(more);
  }
}

function taskSection(ctx: Ctx): HTMLElement {
  const status = h("select", { id: "sat-filter-status" },
    h("option", { value: "" }, t("allStatuses")),
    ...STATUSES.map((s) => h("option", { value: s, selected: s === ctx.filter.status }, statusWord(s))));
  const township = h("select", { id: "sat-filter-township" },
    h("option", { value: "" }, t("allTownships")),
    ...[...ctx.townships].map(([id, name]) => h("option", { value: id, selected: id === ctx.filter.township }, name)));
  const overdue = h("input", { type: "checkbox", id: "sat-filter-overdue", checked: ctx.filter.overdue });
  const refilter = (): void => {
    ctx.filter = { status: status.value as Status | "", township: township.value, overdue: overdue.checked };
    ctx.selected.clear();
    void loadTable(ctx);
  };
  for (const control of [status, township, overdue]) control.addEventListener("change", refilter);

  const submit = h("button", { type: "button", id: "sat-submit" }, t("submitSelected"));
  const assignee = h("select", { id: "sat-assignee" },
    h("option", { value: "" }, t("chooseAssignee")),
    ...[...ctx.users.values()]
      .filter((u) => u.active && (u.role === "inspector" || u.role === "joint_team"))
      .sort((a, b) => a.displayName.localeCompare(b.displayName, "zh-CN"))
      .map((u) => h("option", { value: u.id }, `${u.displayName}（${tr(`role_${u.role}`)}）`)));
  const assign = h("button", { type: "button", id: "sat-assign" }, t("assignTo"));
  const say = (text: string, bad: boolean): void => {
    ctx.actionStatus.textContent = text;
    ctx.actionStatus.className = bad ? "error" : "done";
  };
  const chosen = (): string[] | null => {
    const ids = [...ctx.selected];
    if (ids.length === 0) say(t("selectFirst"), true);
    return ids.length ? ids : null;
  };
  submit.addEventListener("click", () => {
    const ids = chosen();
    if (!ids) return;
    submit.disabled = true;
    api<Schemas["SatelliteSubmission"]>("POST", "/satellite/tasks/submit", { taskIds: ids })
      .then((done) => {
        say(fill("submittedCount", { n: done.count }), false);
        ctx.selected.clear();
        return refresh(ctx);
      })
      .catch((err: unknown) => {
        const refused = err instanceof ApiError ? (err.problem.details as { taskIds?: string[] } | null)?.taskIds : undefined;
        const nos = (refused ?? []).map((id) => ctx.tasks.get(id)?.monitoringNo ?? id).join("、");
        say(nos ? `${problemText(err)} ${fill("submitNeedsPassed", { nos })}` : problemText(err), true);
      })
      .finally(() => { submit.disabled = false; });
  });
  assign.addEventListener("click", () => {
    const ids = chosen();
    if (!ids) return;
    if (!assignee.value) {
      say(t("chooseAssigneeFirst"), true);
      assignee.focus();
      return;
    }
    assign.disabled = true;
    api<Schemas["SatelliteTaskAssignment"]>("POST", "/satellite/tasks/assign", { taskIds: ids, inspectorId: assignee.value })
      .then((done) => {
        say(fill("assignedCount", { n: done.assigned }), false);
        ctx.selected.clear();
        return refresh(ctx);
      })
      .catch((err: unknown) => say(problemText(err), true))
      .finally(() => { assign.disabled = false; });
  });
  return h("section", { class: "card", id: "sat-tasks-card", "aria-labelledby": "sat-tasks-title" },
    h("h2", { id: "sat-tasks-title" }, t("tasksTitle")),
    h("div", { class: "toolbar" },
      h("label", { for: "sat-filter-status" }, t("status")), status,
      h("label", { for: "sat-filter-township" }, t("fig_township")), township,
      h("label", { for: "sat-filter-overdue", class: "check" }, overdue, t("overdueOnly"))),
    h("div", { class: "toolbar" },
      submit,
      h("label", { for: "sat-assignee" }, t("assignee")), assignee, assign),
    ctx.actionStatus,
    ctx.tableBox);
}

// -- the task panel --------------------------------------------------------------------------------
function facts(rows: Array<[string, string | Node]>): HTMLElement {
  return h("table", { class: "attributes" }, h("tbody", {}, ...rows.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, v)))));
}

function areaList(byClass: Record<string, number>, id: string): HTMLElement {
  const entries = Object.entries(byClass).filter(([, v]) => v > 0);
  if (entries.length === 0) return h("p", { class: "muted", id }, "—");
  return h("ul", { class: "mu-list", id }, ...entries.map(([k, v]) => h("li", { "data-class": k }, `${tr(`lc_${k}`)}：${mu(v)} ${t("mu")}`)));
}

function resultFacts(ctx: Ctx, r: Result): HTMLElement {
  const rows: Array<[string, string]> = [[t("outcome"), tr(`so_${r.outcome}`)]];
  if (r.outcome === "legal") {
    rows.push([t("proofType"), r.proofType ? tr(`pt_${r.proofType}`) : "—"], [t("approvalNo"), r.approvalNo || "—"],
      [t("approvalBody"), r.approvalBody || "—"], [t("approvalDate"), r.approvalDate ?? "—"],
      [t("approvalArea"), mu(r.approvalAreaMu)]);
  } else if (r.outcome === "not_new") {
    rows.push([t("notNewKind"), r.notNewKind ? tr(`nn_${r.notNewKind}`) : "—"]);
  } else {
    rows.push([t("violator"), r.violator || "—"], [t("violatorType"), r.violatorType ? tr(`vt_${r.violatorType}`) : "—"],
      [t("landUse"), r.landUse ? tr(`lu_${r.landUse}`) : "—"],
      [t("constructionStatus"), r.constructionStatus ? tr(`cs_${r.constructionStatus}`) : "—"]);
  }
  rows.push([t("verifiedAt"), localMinute(r.verifiedAt)], [t("col_inspector"), nameOf(ctx, r.verifiedBy)], [t("note"), r.note || "—"]);
  return h("div", { id: "sat-result" }, facts(rows),
    h("h4", {}, `${t("overlayAreas")}（${mu(r.overlayAreaMu)} ${t("mu")}）`), areaList(r.overlayAreasMu, "sat-overlay"));
}

function events(ctx: Ctx, task: Task): HTMLElement {
  if (task.events.length === 0) return h("p", { class: "muted" }, "—");
  return h("ol", { class: "events", id: "sat-events" }, ...task.events.map((e) => {
    const decision = typeof e.details.decision === "string" ? `（${e.details.decision === "pass" ? t("reviewPass") : t("sendBack")}）` : "";
    return h("li", { "data-kind": e.kind },
      `${localMinute(e.at)} · ${tr(`ev_${e.kind}`)}${decision} · ${nameOf(ctx, e.actorId)}`, e.reason ? ` · ${e.reason}` : "");
  }));
}

function field(id: string, word: Word, control: HTMLElement): HTMLElement[] {
  return [h("label", { for: id }, t(word)), control];
}

function choice(id: string, values: readonly string[], prefix: string, required = false): HTMLSelectElement {
  return h("select", { id, required },
    h("option", { value: "" }, "—"), ...values.map((v) => h("option", { value: v }, tr(`${prefix}_${v}`))));
}

/** Now in the county's time, as a ``datetime-local`` value. */
function nowLocal(): string {
  return localTime(new Date()).slice(0, 16).replace(" ", "T");
}

function resultForm(ctx: Ctx, task: Task, done: () => void): HTMLElement {
  const resultId = uuid7();  // one id per form: a retry after a lost answer is the same result
  const radios = OUTCOMES.map((o) => {
    const input = h("input", { type: "radio", name: "outcome", id: `sat-outcome-${o}`, value: o, required: true });
    return h("label", { for: `sat-outcome-${o}`, class: "check" }, input, tr(`so_${o}`));
  });
  const proof = choice("sat-proof", PROOFS, "pt", true);
  const approvalNo = h("input", { id: "sat-approval-no", maxlength: "100", required: true });
  const approvalBody = h("input", { id: "sat-approval-body", maxlength: "100" });
  const approvalDate = h("input", { id: "sat-approval-date", type: "date" });
  const approvalArea = h("input", { id: "sat-approval-area", type: "number", min: "0", step: "0.01" });
  const kind = choice("sat-not-new-kind", NOT_NEW, "nn", true);
  const violator = h("input", { id: "sat-violator", maxlength: "200", required: true });
  const violatorType = choice("sat-violator-type", VIOLATORS, "vt", true);
  const use = choice("sat-land-use", USES, "lu", true);
  const build = choice("sat-construction", BUILD, "cs", true);
  const groups: Record<Outcome, HTMLFieldSetElement> = {
    legal: h("fieldset", { id: "sat-legal", hidden: true, disabled: true },
      ...field("sat-proof", "proofType", proof), ...field("sat-approval-no", "approvalNo", approvalNo),
      ...field("sat-approval-body", "approvalBody", approvalBody), ...field("sat-approval-date", "approvalDate", approvalDate),
      ...field("sat-approval-area", "approvalArea", approvalArea)),
    not_new: h("fieldset", { id: "sat-not-new", hidden: true, disabled: true }, ...field("sat-not-new-kind", "notNewKind", kind)),
    illegal: h("fieldset", { id: "sat-illegal", hidden: true, disabled: true },
      ...field("sat-violator", "violator", violator), ...field("sat-violator-type", "violatorType", violatorType),
      ...field("sat-land-use", "landUse", use), ...field("sat-construction", "constructionStatus", build)),
  };
  const verifiedAt = h("input", { id: "sat-verified-at", type: "datetime-local", required: true, value: nowLocal() });
  const note = h("textarea", { id: "sat-note", rows: "2", maxlength: "4000" });
  const error = h("p", { class: "error", id: "sat-form-error", role: "alert" });
  const save = h("button", { type: "submit" }, t("saveResult"));
  const cancel = h("button", { type: "button", class: "link" }, t("cancel"));
  const form = h("form", { class: "result-form", id: "sat-result-form", "aria-label": t("enterResult") },
    h("fieldset", { class: "outcomes" }, h("legend", {}, t("outcome")), ...radios),
    groups.legal, groups.not_new, groups.illegal,
    ...field("sat-verified-at", "verifiedAt", verifiedAt),
    ...field("sat-note", "note", note),
    h("p", { class: "buttons" }, save, cancel), error);
  const outcome = (): Outcome | null => (form.querySelector<HTMLInputElement>("input[name=outcome]:checked")?.value as Outcome) ?? null;
  form.addEventListener("change", () => {
    const chosen = outcome();
    for (const o of OUTCOMES) {
      groups[o].hidden = o !== chosen;
      groups[o].disabled = o !== chosen;
    }
  });
  cancel.addEventListener("click", () => done());
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const chosen = outcome();
    if (!chosen || !form.reportValidity()) return;
    const body: ResultCreate = { outcome: chosen, verifiedAt: `${verifiedAt.value}:00+08:00`, note: note.value.trim() };
    if (chosen === "legal") {
      body.proofType = proof.value as Schemas["ProofTypeName"];
      body.approvalNo = approvalNo.value.trim();
      if (approvalBody.value.trim()) body.approvalBody = approvalBody.value.trim();
      if (approvalDate.value) body.approvalDate = approvalDate.value;
      if (approvalArea.value) body.approvalAreaMu = Number(approvalArea.value);
    } else if (chosen === "not_new") {
      body.notNewKind = kind.value as Schemas["SatelliteNotNewKindName"];
    } else {
      body.violator = violator.value.trim();
      body.violatorType = violatorType.value as Schemas["ViolatorTypeName"];
      body.landUse = use.value as Schemas["SatelliteLandUseName"];
      body.constructionStatus = build.value as Schemas["SatelliteConstructionStatusName"];
    }
    save.disabled = true;
    error.textContent = t("saving");
    api<Result>("PUT", `/satellite/tasks/${task.id}/results/${resultId}`, body)
      .then(() => {
        void openTask(ctx, task.id, false);
        void refresh(ctx);
      })
      .catch((err: unknown) => {
        error.textContent = problemText(err);
        save.disabled = false;
      });
  });
  return form;
}

/** A reason and a button (sending back, reopening): the reason is required. */
function reasonForm(id: string, word: Word, confirm: Word, send: (reason: string) => Promise<Task>, after: (task: Task) => void, done: () => void): HTMLElement {
  const reason = h("textarea", { id, rows: "2", required: true, maxlength: "4000" });
  const error = h("p", { class: "error", role: "alert" });
  const go = h("button", { type: "submit" }, t(confirm));
  const cancel = h("button", { type: "button", class: "link" }, t("cancel"));
  cancel.addEventListener("click", () => done());
  const form = h("form", { class: "reason-form" }, h("label", { for: id }, t(word)), reason, h("p", { class: "buttons" }, go, cancel), error);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!reason.value.trim()) {
      error.textContent = t("reasonRequired");
      reason.focus();
      return;
    }
    go.disabled = true;
    send(reason.value.trim()).then(after).catch((err: unknown) => {
      error.textContent = problemText(err);
      go.disabled = false;
    });
  });
  return form;
}

function actions(ctx: Ctx, task: Task, show: (task: Task) => void): HTMLElement {
  const me = savedMe();
  const slot = h("div", { id: "sat-action-form" });
  const error = h("p", { class: "error", id: "sat-panel-error", role: "alert" });
  const after = (next: Task): void => {
    show(next);
    void refresh(ctx);
  };
  const post = (path: string, body: unknown): Promise<Task> => api<Task>("POST", `/satellite/tasks/${task.id}${path}`, body);
  const button = (word: Word, id: string, onClick: (b: HTMLButtonElement) => void): HTMLButtonElement => {
    const b = h("button", { type: "button", id }, t(word));
    b.addEventListener("click", () => {
      error.textContent = "";
      onClick(b);
    });
    return b;
  };
  const clear = (): void => slot.replaceChildren();
  const buttons: HTMLButtonElement[] = [];
  if (RECORDABLE.includes(task.status)) {
    buttons.push(button("enterResult", "sat-enter-result", () => {
      slot.replaceChildren(resultForm(ctx, task, clear));
      slot.querySelector<HTMLInputElement>("input[name=outcome]")?.focus();
    }));
  }
  if (task.status === "verified") {
    buttons.push(button("reviewPass", "sat-review-pass", (b) => {
      b.disabled = true;
      post("/review", { decision: "pass", reason: "" }).then(after).catch((err: unknown) => {
        error.textContent = problemText(err);
        b.disabled = false;
      });
    }));
    buttons.push(button("sendBack", "sat-send-back", () => {
      slot.replaceChildren(reasonForm("sat-send-back-reason", "sendBackReason", "sendBack",
        (reason) => post("/review", { decision: "send_back", reason }), after, clear));
      slot.querySelector("textarea")?.focus();
    }));
  }
  if (task.outcome === "illegal" && (task.status === "passed" || task.status === "submitted") && !task.caseId) {
    buttons.push(button("openCase", "sat-open-case", (b) => {
      b.disabled = true;
      post("/case", {}).then(after).catch((err: unknown) => {
        error.textContent = problemText(err);
        b.disabled = false;
      });
    }));
  }
  if (me?.role === "admin" && task.status === "submitted") {
    buttons.push(button("reopen", "sat-reopen", () => {
      slot.replaceChildren(reasonForm("sat-reopen-reason", "reopenReason", "reopen",
        (reason) => post("/reopen", { reason }), after, clear));
      slot.querySelector("textarea")?.focus();
    }));
  }
  return h("div", { class: "task-actions" }, h("p", { class: "buttons" }, ...buttons), slot, error);
}

function taskPanel(ctx: Ctx, task: Task): HTMLElement[] {
  const close = h("button", { type: "button", class: "close", "aria-label": t("close") }, "×");
  close.addEventListener("click", () => {
    ctx.current = null;
    highlight(ctx, null, false);
    ctx.panel.replaceChildren(h("p", { class: "muted" }, t("pickTask")));
  });
  const status = h("span", { id: "sat-task-status", "data-status": task.status }, swatch(task.status), " ", statusWord(task.status));
  const show = (next: Task): void => {
    ctx.panel.replaceChildren(...taskPanel(ctx, next));
    paint(ctx.panel);
    ctx.panel.scrollTop = 0;
    ctx.panel.querySelector<HTMLElement>("#sat-task-title")?.focus();
  };
  const parts: HTMLElement[] = [
    h("header", {}, h("h2", { id: "sat-task-title", tabindex: "-1" }, `${t("col_monitoring_no")} ${task.monitoringNo}`), close),
    facts([
      [t("batch"), task.batch.name],
      [t("col_township"), task.township?.name ?? t("noTownship")],
      [t("col_area"), task.area?.name ?? "—"],
      [t("col_inspector"), task.inspector?.name ?? "—"],
      [t("status"), status],
      [t("dueOn"), task.overdue ? `${task.dueOn} · ${t("overdueMark")}` : task.dueOn],
      [t("polygonArea"), `${mu(task.polygonAreaMu)} ${t("mu")}`],
    ]),
    h("h3", {}, t("monitoredAreas")), areaList(task.monitoredAreasMu, "sat-monitored"),
    h("h3", {}, t("currentResult")),
    task.result ? resultFacts(ctx, task.result) : h("p", { class: "muted", id: "sat-result" }, t("noResult")),
  ];
  if (task.reviewedAt || task.reviewNote) {
    parts.push(h("h3", {}, t("review")), facts([
      [t("reviewedAt"), task.reviewedAt ? `${localMinute(task.reviewedAt)} · ${nameOf(ctx, task.reviewedBy)}` : "—"],
      [t("reviewNote"), task.reviewNote || "—"],
    ]));
  }
  if (task.submittedAt) {
    parts.push(h("h3", {}, t("submission")), facts([[t("submittedAt"), `${localMinute(task.submittedAt)} · ${nameOf(ctx, task.submittedBy)}`]]));
  }
  if (task.caseId) {
    parts.push(h("h3", {}, t("caseLink")), h("p", {}, h("a", { href: "#/cases", id: "sat-case-link", "data-case-id": task.caseId }, t("openCaseLink"))));
  }
  parts.push(actions(ctx, task, show), h("h3", {}, t("history")), events(ctx, task));
  return parts;
}

async function openTask(ctx: Ctx, id: string, fly: boolean): Promise<void> {
  ctx.current = id;
  ctx.tableBox.querySelectorAll("tr.current").forEach((r) => r.classList.remove("current"));
  ctx.tableBox.querySelector(`tr[data-task-id="${id}"]`)?.classList.add("current");
  highlight(ctx, id, fly);
  ctx.panel.replaceChildren(loading());
  let task: Task;
  try {
    task = await api<Task>("GET", `/satellite/tasks/${id}`);
  } catch (err) {
    ctx.panel.replaceChildren(failure(err, () => void openTask(ctx, id, false)));
    return;
  }
  if (ctx.current !== id) return;  // another task was opened meanwhile
  ctx.panel.replaceChildren(...taskPanel(ctx, task));
  paint(ctx.panel);
  ctx.panel.querySelector<HTMLElement>("#sat-task-title")?.focus();
}

// -- the page --------------------------------------------------------------------------------------
/** After a step: the batch's counts, the figures, the map's colours and the table again. */
async function refresh(ctx: Ctx): Promise<void> {
  try {
    const [batch, figures, tasks] = await Promise.all([
      api<Batch>("GET", `/satellite/batches/${ctx.batch.id}`),
      api<Figures>("GET", `/satellite/batches/${ctx.batch.id}/figures`),
      allTasks(ctx.batch.id),
    ]);
    Object.assign(ctx, { batch, figures, tasks });
  } catch (err) {
    ctx.actionStatus.textContent = problemText(err);
    ctx.actionStatus.className = "error";
    return;
  }
  ctx.batchCard.replaceWith((ctx.batchCard = batchCard(ctx)));
  ctx.figuresCard.replaceWith((ctx.figuresCard = figuresCard(ctx.figures)));
  ctx.view?.setData("satellite", features(ctx));
  await loadTable(ctx);
}

async function showBatch(main: HTMLElement, batches: Batch[], batchId: string): Promise<void> {
  main.replaceChildren(loading());
  let batch: Batch, figures: Figures, tasks: Map<string, Summary>, areas: Area[], users: User[], config: ConsoleConfig;
  try {
    [batch, figures, tasks, areas, users, config] = await Promise.all([
      api<Batch>("GET", `/satellite/batches/${batchId}`),
      api<Figures>("GET", `/satellite/batches/${batchId}/figures`),
      allTasks(batchId),
      api<Area[]>("GET", "/areas"),
      api<User[]>("GET", "/admin/users"),
      api<ConsoleConfig>("GET", "/console/config"),
    ]);
  } catch (err) {
    main.replaceChildren(failure(err, () => void showBatch(main, batches, batchId)));
    return;
  }
  if (!main.isConnected) return;  // another page was opened meanwhile
  shownBatch = batchId;
  const townships = new Map<string, string>();
  for (const r of figures.townships) if (r.townshipId) townships.set(r.townshipId, r.name);
  const ctx: Ctx = {
    main, batches, batch, figures, tasks, townships,
    areas: new Map(areas.map((a) => [a.id, a])),
    users: new Map(users.map((u) => [u.id, u])),
    shapes: new Map(),
    view: null,
    filter: { status: "", township: "", overdue: false },
    selected: new Set(),
    current: null,
    batchCard: h("section"),
    figuresCard: h("section"),
    tableBox: h("div", { id: "sat-task-list", "aria-live": "polite" }),
    tableAsked: questions(),
    panel: h("aside", { class: "card task-panel", id: "sat-panel", "aria-label": t("taskPanel") }, h("p", { class: "muted" }, t("pickTask"))),
    actionStatus: h("p", { id: "sat-action-status", role: "status" }),
  };
  ctx.batchCard = batchCard(ctx);
  ctx.figuresCard = figuresCard(figures);

  const picker = h("select", { id: "sat-batch-picker" }, ...batches.map((b) =>
    h("option", { value: b.id, selected: b.id === batchId }, batchLabel(b))));
  picker.addEventListener("change", () => void showBatch(main, batches, picker.value));
  const container = h("div", { class: "review-map", id: "sat-map" });
  const mapNote = h("p", { class: "note map-note", role: "status" });
  main.replaceChildren(h("div", { class: "review-page satellite-page" },
    h("div", { class: "toolbar" }, h("h1", {}, t("satellite")), h("label", { for: "sat-batch-picker" }, t("batch")), picker),
    ctx.batchCard,
    h("div", { class: "split sat-split" }, h("div", { class: "map-box" }, container, legend(), mapNote), ctx.panel),
    ctx.figuresCard,
    taskSection(ctx)));
  void loadTable(ctx);
  try {
    ctx.shapes = await shapesOf(batchId, [...tasks.keys()]);
  } catch (err) {
    mapNote.textContent = problemText(err);
  }
  if (!main.isConnected || shownBatch !== batchId) return;
  drawMap(ctx, container, config);
}

export async function satellitePage(main: HTMLElement): Promise<void> {
  main.replaceChildren(loading());
  let batches: Batch[];
  try {
    batches = await api<Batch[]>("GET", "/satellite/batches");
  } catch (err) {
    main.replaceChildren(failure(err, () => void satellitePage(main)));
    return;
  }
  if (!main.isConnected) return;
  if (batches.length === 0) {
    main.replaceChildren(h("div", { class: "review-page satellite-page" },
      h("h1", {}, t("satellite")), h("p", { class: "muted", id: "sat-no-batches" }, t("noBatches"))));
    return;
  }
  batches = [...batches].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.year - a.year);
  const chosen = batches.some((b) => b.id === shownBatch) ? shownBatch! : batches[0]!.id;
  await showBatch(main, batches, chosen);
}
