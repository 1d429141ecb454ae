// Patrol records: 巡查记录 for captains and admins, 我的巡查 for inspectors and joint-team members.
// Both list what ListPatrols gives the caller (captains every patrol of the county; the others
// those they ran or joined and those of the areas they lead), by month, area, status and (巡查记录)
// inspector; a patrol's panel (GetPatrol) shows its figures, its sign-ins (ListSignIns), its
// findings (ListFindings), its evidence (ListEvidence) and, for the roles that have the page,
// the link to its track replay (#/replay?patrol=…).
import { type Area, type Schemas, api, savedMe } from "./api";
import { h, questions } from "./dom";
import { fill, t, tr } from "./i18n";
import { linkedEvidence } from "./evidence";
import { pagesFor } from "./menu";
import {
  failure, facts, fixed, loading, localMinute, localTime, monthRange, pageLink, pageParam, span, today,
} from "./view";

type Patrol = Schemas["Patrol"];
type SignIn = Schemas["SignIn"];
type Finding = Schemas["Finding"];
type User = Schemas["User"];

export type PatrolPage = "patrols" | "my-patrols";
const LIMIT = 500;

interface Ctx {
  page: PatrolPage;
  names: Map<string, string>;
  areas: Map<string, Area>;
  pages: Set<string>;  // the pages the caller's menu has (links to those only)
}

function who(ctx: Ctx, id: string): string {
  return ctx.names.get(id) ?? id.slice(0, 8);
}

function areaName(ctx: Ctx, id: string): string {
  const a = ctx.areas.get(id);
  return a ? `${a.code} ${a.name}` : id.slice(0, 8);
}

function statusText(p: Patrol): string {
  if (!p.endedAt) return t("pt_ongoing");
  return p.endReason === "auto_closed" ? t("pt_autoClosed") : t("pt_ended");
}

function km(m: number): string {
  return `${fixed(m / 1000, 2)} ${t("km")}`;
}

// -- a patrol's panel ----------------------------------------------------------------------------
function signInTable(rows: SignIn[]): HTMLElement {
  if (rows.length === 0) return h("p", { class: "muted", id: "pt-no-signins" }, t("pt_noSignIns"));
  return h("table", { class: "grid", id: "pt-signins" },
    h("thead", {}, h("tr", {}, ...(["pt_time", "pt_method", "pt_place", "pt_targets", "pt_far"] as const)
      .map((w) => h("th", { scope: "col" }, t(w))))),
    h("tbody", {}, ...rows.map((s) => h("tr", { "data-sign-in-id": s.id },
      h("td", { class: "nowrap" }, localTime(s.at)),
      h("td", {}, s.method === "manual" ? `${t("pt_manual")}（${tr(`mr_${s.reasonCode ?? ""}`)}）` : t("pt_gps")),
      h("td", {}, s.address || `${s.lon.toFixed(5)}, ${s.lat.toFixed(5)}`),
      h("td", { class: "num" }, String(s.targetsReached?.length ?? 0)),
      h("td", {}, s.farFromTargets
        ? `⚠ ${t("pt_farYes")}${s.nearestTargetM != null ? `（${fixed(s.nearestTargetM, 0)} ${t("metres")}）` : ""}`
        : "—")))));
}

function findingTable(ctx: Ctx, patrol: Patrol, rows: Finding[]): HTMLElement {
  if (rows.length === 0) return h("p", { class: "muted", id: "pt-no-findings" }, t("pt_noFindings"));
  const linked = ctx.pages.has("findings");
  return h("table", { class: "grid", id: "pt-findings" },
    h("thead", {}, h("tr", {}, ...(["pt_time", "fd_project", "fd_status", "fd_area", "fd_landClass", "fd_suggestions"] as const)
      .map((w) => h("th", { scope: "col" }, t(w))))),
    h("tbody", {}, ...rows.map((f) => h("tr", { "data-finding-id": f.id },
      h("td", { class: "nowrap" }, localTime(f.foundAt)),
      h("td", {}, linked
        ? h("a", { href: pageLink("findings", { patrol: patrol.id, finding: f.id }) }, f.projectName)
        : f.projectName),
      h("td", {}, tr(`cs_${f.constructionStatus}`)),
      h("td", { class: "num" }, f.occupiedAreaMu != null ? `${fixed(f.occupiedAreaMu, 2)} ${t("mu")}` : "—"),
      h("td", {}, f.landClassLabel ?? (f.landClass ? tr(`lc_${f.landClass}`) : "—")),
      h("td", { "data-col": "suggestion" }, (f.suggestions ?? []).length
        ? h("span", { class: "sev sev-high", title: (f.suggestions ?? []).map((s) => s.message).join("；") },
          fill("fd_hints", { n: (f.suggestions ?? []).length }))
        : "—")))));
}

async function showPatrol(ctx: Ctx, panel: HTMLElement, id: string): Promise<void> {
  panel.hidden = false;
  panel.replaceChildren(loading());
  let p: Patrol, signIns: SignIn[], findings: Finding[];
  try {
    [p, signIns, findings] = await Promise.all([
      api<Patrol>("GET", `/patrols/${id}`),
      api<SignIn[]>("GET", `/patrols/${id}/sign-ins`),
      api<Finding[]>("GET", `/patrols/${id}/findings`),
    ]);
  } catch (err) {
    panel.replaceChildren(failure(err, () => void showPatrol(ctx, panel, id)));
    return;
  }
  const close = h("button", { type: "button", class: "close", "aria-label": t("close") }, "×");
  close.addEventListener("click", () => {
    panel.hidden = true;
    panel.replaceChildren();
  });
  const replay = ctx.pages.has("replay")
    ? h("a", { href: pageLink("replay", { patrol: p.id }), id: "pt-replay", class: "button-link" }, t("pt_replay"))
    : null;
  const crew = [who(ctx, p.inspectorId), ...p.companionIds.map((c) => who(ctx, c))].join("、");
  panel.replaceChildren(
    h("header", {},
      h("h2", { id: "pt-panel-title" }, `${localMinute(p.startedAt)} · ${areaName(ctx, p.areaId)}`), close),
    h("p", { class: "pt-status", "data-status": p.endedAt ? "ended" : "ongoing" }, statusText(p), replay ? " · " : "", replay),
    facts("pt-facts", [
      [t("pt_crew"), crew],
      [t("pt_area"), areaName(ctx, p.areaId)],
      [t("pt_started"), localTime(p.startedAt)],
      [t("pt_endedAt"), p.endedAt ? localTime(p.endedAt) : null],
      [t("pt_distance"), km(p.distanceM)],
      [t("pt_duration"), p.endedAt ? span(p.durationS) : null],
      [t("pt_moving"), p.movingS ? span(p.movingS) : null],
      [t("pt_points"), `${p.usedPointCount} / ${p.pointCount}${p.poorAccuracyCount ? ` · ${t("pt_poorAccuracy")} ${p.poorAccuracyCount}` : ""}${p.speedFlaggedCount ? ` · ${t("pt_speedFlagged")} ${p.speedFlaggedCount}` : ""}`],
      [t("pt_night"), p.isNight ? t("yes") : null],
      [t("pt_violation"), p.hasViolation ? t("yes") : t("no")],
      [t("note"), p.note || null],
    ]),
    h("h3", {}, `${t("signIns")}（${signIns.length}）`), signInTable(signIns),
    h("h3", {}, `${t("findings")}（${findings.length}）`), findingTable(ctx, p, findings),
    h("h3", {}, t("ev_evidence")),
    linkedEvidence({ patrol_id: p.id }, ctx.pages.has("evidence") ? pageLink("evidence", { patrol: p.id }) : null));
}

// -- the page ------------------------------------------------------------------------------------
export async function patrolsPage(main: HTMLElement, page: PatrolPage): Promise<void> {
  const me = savedMe();
  const [areas, users] = await Promise.all([
    api<Area[]>("GET", "/areas?include_inactive=true").catch(() => [] as Area[]),
    api<User[]>("GET", "/admin/users").catch(() => [] as User[]),
  ]);
  const ctx: Ctx = {
    page,
    names: new Map(users.map((u) => [u.id, u.displayName])),
    areas: new Map(areas.map((a) => [a.id, a])),
    pages: new Set(pagesFor(me?.role ?? "").map((p) => p.id)),
  };
  const month = h("input", { type: "month", id: "pt-month", value: today().slice(0, 7), required: true });
  const area = h("select", { id: "pt-area" }, h("option", { value: "" }, t("pt_allAreas")),
    ...areas.map((a) => h("option", { value: a.id }, `${a.code} ${a.name}`)));
  const inspectors = users.filter((u) => u.role === "inspector" || u.role === "joint_team");
  const inspector = h("select", { id: "pt-inspector" }, h("option", { value: "" }, t("pt_allInspectors")),
    ...inspectors.map((u) => h("option", { value: u.id }, u.displayName)));
  const status = h("select", { id: "pt-status" },
    h("option", { value: "" }, t("pt_allStatuses")),
    h("option", { value: "ongoing" }, t("pt_ongoing")),
    h("option", { value: "ended" }, t("pt_ended")));
  const list = h("div", { id: "pt-list", "aria-live": "polite" }, loading());
  const panel = h("section", { class: "card pt-panel", id: "pt-panel", "aria-labelledby": "pt-panel-title", hidden: true });
  const open = (id: string): void => {
    void showPatrol(ctx, panel, id);
    list.querySelectorAll("tr.current").forEach((r) => r.classList.remove("current"));
    list.querySelector(`tr[data-patrol-id="${id}"]`)?.classList.add("current");
  };
  const asked = questions();
  const load = async (): Promise<void> => {
    const current = asked.ask();
    list.replaceChildren(loading());
    const q = new URLSearchParams({ limit: String(LIMIT) });
    if (month.value) {
      const [since, until] = monthRange(month.value);
      q.set("since", since);
      q.set("until", until);
    }
    if (area.value) q.set("area_id", area.value);
    if (page === "patrols" && inspector.value) q.set("inspector_id", inspector.value);
    if (status.value) q.set("status", status.value);
    let rows: Patrol[];
    try {
      rows = await api<Patrol[]>("GET", `/patrols?${q.toString()}`);
    } catch (err) {
      if (current()) list.replaceChildren(failure(err, () => void load()));
      return;
    }
    if (!current()) return;  // asked again meanwhile: the newer answer shows
    if (rows.length === 0) {
      list.replaceChildren(h("p", { class: "muted", id: "pt-empty" }, page === "patrols" ? t("pt_none") : t("pt_noneMine")));
      return;
    }
    const total = rows.reduce((sum, p) => sum + p.distanceM, 0);
    list.replaceChildren(
      h("p", { class: "totals", id: "pt-totals" },
        `${t("pt_count")} ${rows.length} · ${t("pt_distance")} ${km(total)}`,
        rows.length >= LIMIT ? ` · ${t("pt_limited")}` : ""),
      h("div", { class: "table-wrap" }, h("table", { class: "grid", id: "pt-table" },
        h("thead", {}, h("tr", {}, ...(["pt_started", "pt_inspector", "pt_area", "status", "pt_distance", "pt_flags", "pt_open"] as const)
          .map((w) => h("th", { scope: "col" }, t(w))))),
        h("tbody", {}, ...rows.map((p) => {
          const button = h("button", { type: "button", class: "open", "aria-label": `${t("pt_open")}：${localMinute(p.startedAt)} ${who(ctx, p.inspectorId)}` }, t("pt_open"));
          button.addEventListener("click", () => open(p.id));
          const marks = [p.isNight ? t("pt_night") : "", p.hasViolation ? t("pt_violation") : ""].filter(Boolean).join("、");
          return h("tr", { "data-patrol-id": p.id, "data-inspector-id": p.inspectorId },
            h("td", { class: "nowrap", "data-col": "started" }, localMinute(p.startedAt)),
            h("td", { "data-col": "inspector" }, who(ctx, p.inspectorId), p.companionIds.length ? ` +${p.companionIds.length}` : ""),
            h("td", { "data-col": "area" }, areaName(ctx, p.areaId)),
            h("td", { "data-col": "status" }, statusText(p)),
            h("td", { class: "num nowrap" }, km(p.distanceM)),
            h("td", {}, marks || "—"),
            h("td", {}, button));
        })))));
  };
  for (const control of [month, area, inspector, status]) control.addEventListener("change", () => void load());
  const filters: HTMLElement[] = [
    h("label", { for: "pt-month" }, t("pt_month")), month,
    h("label", { for: "pt-area" }, t("pt_area")), area,
  ];
  if (page === "patrols") filters.push(h("label", { for: "pt-inspector" }, t("pt_inspector")), inspector);
  filters.push(h("label", { for: "pt-status" }, t("status")), status);
  main.replaceChildren(h("div", { class: "review-page patrols-page" },
    h("div", { class: "toolbar" }, h("h1", {}, t(page === "patrols" ? "patrols" : "myPatrols")), ...filters),
    h("div", { class: "pt-layout" }, list, panel)));
  const wanted = pageParam("patrol");
  if (wanted) {
    month.value = "";  // a linked patrol may be of any month
    open(wanted);
  }
  await load();
}
