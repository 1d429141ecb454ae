// Closed mines and five-to-one (矿山与五包一), for captains and admins: the register of closed
// sites (ListMineSites) with each site's status on a small map coloured by status and in a
// table; each site's roster of five (GetRosterReport for the totals) with every role held or a
// gap, and the members overdue for their checks (GetDutyStatus over the last 30 days)
// highlighted; filters "only gaps" and "only overdue"; a site's panel (GetMineSite) to change
// its status with the reason (SetMineSiteStatus) and to fill, change or vacate a role
// (SetRosterMember, RemoveRosterMember).
import type { ExpressionSpecification } from "maplibre-gl";
import { type Area, type ConsoleConfig, type Schemas, api } from "./api";
import { h } from "./dom";
import { type Word, fill, t, tr } from "./i18n";
import { type Collection, type Geometry, type ReviewMap, areaFeatures, boxOf, collection, reviewMap } from "./reviewmap";
import { MINE_STATUS, ROSTER_ROLES, SITE_STATUSES } from "./sitestatus";
import { failure, loading, localMinute, problemText } from "./view";

type Site = Schemas["MineSite"];
type RosterMember = Schemas["RosterMember"];
type RosterReport = Schemas["RosterReport"];
type SiteDuty = Schemas["SiteDuty"];
type MemberDuty = Schemas["MemberDuty"];
type User = Schemas["User"];

const ROLES = ROSTER_ROLES;
const PERIODS = ["daily", "weekly", "monthly"] as const;

interface Data {
  sites: Site[];
  report: RosterReport;
  duty: Map<string, Map<string, MemberDuty>>;  // site -> role -> the member's duty
  users: Map<string, User>;
}

interface Filter {
  gaps: boolean;
  overdue: boolean;
  status: string;
}

async function load(): Promise<Data> {
  const [sites, report, duty, users] = await Promise.all([
    api<Site[]>("GET", "/geofence/mine-sites"),
    api<RosterReport>("GET", "/geofence/roster-report"),
    api<SiteDuty[]>("GET", "/duty-status"),
    api<User[]>("GET", "/admin/users"),
  ]);
  return {
    sites,
    report,
    duty: new Map(duty.map((s) => [s.siteId, new Map(s.members.map((m) => [m.role, m]))])),
    users: new Map(users.map((u) => [u.id, u])),
  };
}

function holder(m: RosterMember, data: Data): string {
  const user = m.userId ? data.users.get(m.userId)?.displayName : undefined;
  return user || m.contactName || t("pl_unknownPerson");
}

function overdueCount(site: Site, data: Data): number {
  return [...(data.duty.get(site.id)?.values() ?? [])].filter((m) => m.overdue).length;
}

function cycleText(period: string, checks: number): string {
  return fill(`dp_${period}` as Word, { n: checks });
}

function statusBadge(status: string): HTMLElement {
  const colour = MINE_STATUS.find((s) => s.value === status)?.color ?? "#546e7a";
  const swatch = h("span", { class: "swatch" });
  swatch.style.background = colour;
  return h("span", { class: `site-status st-${status}`, "data-status": status }, swatch, " ", tr(`ms_${status}`));
}

// -- the roster chips of the table -------------------------------------------------------------
function rosterChips(site: Site, data: Data): HTMLElement {
  const held = new Map(site.roster.map((m) => [m.role, m]));
  const duty = data.duty.get(site.id);
  return h("ul", { class: "roster-chips" }, ...ROLES.map((role) => {
    const m = held.get(role);
    if (!m) {
      return h("li", { class: "role-chip gap", "data-role": role, "data-state": "gap" },
        `${tr(`rls_${role}`)}：`, h("strong", {}, t("mn_gap")));
    }
    const late = duty?.get(role)?.overdue === true;
    return h("li", { class: `role-chip ${late ? "overdue" : "filled"}`, "data-role": role, "data-state": late ? "overdue" : "filled" },
      `${tr(`rls_${role}`)}：${holder(m, data)}`, late ? h("strong", {}, ` · ${t("mn_overdue")}`) : null);
  }));
}

// -- a site's panel ----------------------------------------------------------------------------
function statusForm(site: Site, changed: (site: Site, notice: string) => void): HTMLElement {
  const select = h("select", { id: "site-status" }, ...SITE_STATUSES.map((s) =>
    h("option", { value: s, selected: s === site.status }, tr(`ms_${s}`))));
  const reason = h("textarea", { id: "site-status-reason", rows: "2", maxlength: "2000", required: true });
  const save = h("button", { type: "submit" }, t("mn_setStatus"));
  const error = h("p", { class: "error", role: "alert", id: "site-status-error" });
  const form = h("form", { class: "site-form", id: "site-status-form", "aria-labelledby": "site-status-title" },
    h("h3", { id: "site-status-title" }, t("mn_changeStatus")),
    h("label", { for: "site-status" }, t("mn_newStatus")), select,
    h("label", { for: "site-status-reason" }, t("mn_reason")), reason,
    h("p", { class: "muted" }, t("mn_reasonHint")),
    save, error);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!reason.value.trim()) {
      error.textContent = t("mn_reasonNeeded");
      reason.focus();
      return;
    }
    save.disabled = true;
    error.textContent = "";
    api<Site>("POST", `/geofence/mine-sites/${site.id}/status`, { status: select.value, reason: reason.value.trim() })
      .then((next) => changed(next, fill("mn_statusSaved", { site: next.name, status: tr(`ms_${next.status}`) })))
      .catch((err: unknown) => {
        save.disabled = false;
        error.textContent = problemText(err);
      });
  });
  return form;
}

function memberForm(site: Site, role: string, current: RosterMember | undefined, data: Data,
  changed: (site: Site, notice: string) => void, cancel: () => void): HTMLElement {
  const people = [...data.users.values()].filter((u) => u.active)
    .sort((a, b) => a.displayName.localeCompare(b.displayName, "zh-CN"));
  const kindUser = h("input", { type: "radio", name: "roster-kind", id: "roster-kind-user", value: "user", checked: Boolean(current?.userId) });
  const kindContact = h("input", { type: "radio", name: "roster-kind", id: "roster-kind-contact", value: "contact", checked: !current?.userId });
  const user = h("select", { id: "roster-user" }, h("option", { value: "" }, t("mn_choosePerson")),
    ...people.map((u) => h("option", { value: u.id, selected: u.id === current?.userId }, `${u.displayName}（${tr(`role_${u.role}`)}）`)));
  const name = h("input", { id: "roster-name", maxlength: "100", value: current && !current.userId ? current.contactName : "" });
  const phone = h("input", { id: "roster-phone", type: "tel", maxlength: "32", value: current?.contactPhone ?? "" });
  const period = h("select", { id: "roster-period" }, h("option", { value: "" }, t("mn_periodDefault")),
    ...PERIODS.map((p) => h("option", { value: p, selected: p === current?.dutyPeriod }, tr(`pd_${p}`))));
  const checks = h("input", { id: "roster-checks", type: "number", min: "1", max: "100", step: "1", value: current ? String(current.dutyChecks) : "" });
  const userField = h("div", { class: "form-field" }, h("label", { for: "roster-user" }, t("mn_person")), user);
  const contactFields = h("div", { class: "form-grid" },
    h("div", { class: "form-field" }, h("label", { for: "roster-name" }, t("mn_contactName")), name),
    h("div", { class: "form-field" }, h("label", { for: "roster-phone" }, t("mn_contactPhone")), phone));
  const sync = (): void => {
    userField.hidden = !kindUser.checked;
    contactFields.hidden = kindUser.checked;
  };
  kindUser.addEventListener("change", sync);
  kindContact.addEventListener("change", sync);
  sync();
  const save = h("button", { type: "submit" }, t("mn_saveMember"));
  const back = h("button", { type: "button", class: "link" }, t("cancel"));
  back.addEventListener("click", cancel);
  const error = h("p", { class: "error", role: "alert", id: "roster-error" });
  const form = h("form", { class: "site-form", id: "roster-form", "data-role": role, "aria-labelledby": "roster-form-title" },
    h("h4", { id: "roster-form-title" }, fill("mn_assignTitle", { role: tr(`rl_${role}`) })),
    h("fieldset", { class: "kinds" }, h("legend", {}, t("mn_holder")),
      h("label", { for: "roster-kind-user", class: "check" }, kindUser, t("mn_kindUser")),
      h("label", { for: "roster-kind-contact", class: "check" }, kindContact, t("mn_kindContact"))),
    userField, contactFields,
    h("div", { class: "form-grid" },
      h("div", { class: "form-field" }, h("label", { for: "roster-period" }, t("mn_period")), period),
      h("div", { class: "form-field" }, h("label", { for: "roster-checks" }, t("mn_checks")), checks)),
    h("div", { class: "buttons" }, save, back), error);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    error.textContent = "";
    const body: Record<string, unknown> = {};
    if (kindUser.checked) {
      if (!user.value) {
        error.textContent = t("mn_needPerson");
        user.focus();
        return;
      }
      body["userId"] = user.value;
    } else {
      if (!name.value.trim() || !phone.value.trim()) {
        error.textContent = t("mn_needContact");
        (name.value.trim() ? phone : name).focus();
        return;
      }
      body["contactName"] = name.value.trim();
      body["contactPhone"] = phone.value.trim();
    }
    if (period.value) body["dutyPeriod"] = period.value;
    if (checks.value) body["dutyChecks"] = Number(checks.value);
    save.disabled = true;
    api<Site>("PUT", `/geofence/mine-sites/${site.id}/roster/${role}`, body)
      .then((next) => changed(next, fill("mn_memberSaved", { role: tr(`rl_${role}`), site: next.name })))
      .catch((err: unknown) => {
        save.disabled = false;
        error.textContent = problemText(err);
      });
  });
  return form;
}

function rosterTable(site: Site, data: Data, changed: (site: Site, notice: string) => void): HTMLElement {
  const held = new Map(site.roster.map((m) => [m.role, m]));
  const duty = data.duty.get(site.id);
  const formRow = h("div", { id: "roster-form-box" });
  const error = h("p", { class: "error", role: "alert", id: "roster-remove-error" });
  const rows = ROLES.map((role) => {
    const m = held.get(role);
    const d = duty?.get(role);
    const assign = h("button", { type: "button", class: "link", "data-action": "assign",
      "aria-label": `${m ? t("mn_change") : t("mn_assign")}：${tr(`rl_${role}`)}` }, m ? t("mn_change") : t("mn_assign"));
    assign.addEventListener("click", () => {
      const form = memberForm(site, role, m, data, changed, () => {
        formRow.replaceChildren();
        assign.focus();
      });
      formRow.replaceChildren(form);
      form.querySelector<HTMLElement>("input[name=roster-kind]:checked")?.focus();
    });
    let remove: HTMLButtonElement | null = null;
    if (m) {
      const button = h("button", { type: "button", class: "link danger", "data-action": "remove", "aria-label": `${t("mn_remove")}：${tr(`rl_${role}`)}` }, t("mn_remove"));
      button.addEventListener("click", () => {
        if (!window.confirm(fill("mn_confirmRemove", { role: tr(`rl_${role}`), name: holder(m, data) }))) return;
        button.disabled = true;
        error.textContent = "";
        api<Site>("DELETE", `/geofence/mine-sites/${site.id}/roster/${role}`)
          .then((next) => changed(next, fill("mn_memberRemoved", { role: tr(`rl_${role}`), site: next.name })))
          .catch((err: unknown) => {
            button.disabled = false;
            error.textContent = problemText(err);
          });
      });
      remove = button;
    }
    const state = !m ? "gap" : d?.overdue ? "overdue" : "ok";
    return h("tr", { "data-role": role, "data-state": state, class: state === "ok" ? undefined : state },
      h("th", { scope: "row" }, tr(`rl_${role}`)),
      h("td", { "data-col": "holder" }, ...(m
        ? [h("span", {}, holder(m, data)), m.contactPhone ? h("span", { class: "muted" }, ` ${m.contactPhone}`) : null,
            h("br"), h("span", { class: "muted", "data-col": "cycle" }, cycleText(m.dutyPeriod, m.dutyChecks))]
        : [h("strong", {}, t("mn_gap"))])),
      h("td", { "data-col": "checks", class: "nowrap" }, ...(m
        ? [h("span", { "data-col": "last" }, d?.lastCheckAt ? localMinute(d.lastCheckAt) : t("mn_never")), h("br"),
            h("span", { class: "muted", "data-col": "due" }, d?.dueAt ? `${t("mn_nextDue")} ${localMinute(d.dueAt)}` : "")]
        : ["—"])),
      h("td", { "data-col": "state" }, state === "gap" ? t("mn_gap") : state === "overdue" ? t("mn_overdue") : t("mn_onTime")),
      h("td", { class: "nowrap" }, assign, remove ? h("br") : null, remove));
  });
  return h("div", {},
    h("table", { class: "grid", id: "site-roster" },
      h("thead", {}, h("tr", {}, ...(["mn_role", "mn_holder", "mn_lastCheck", "status", "fr_actions"] as const)
        .map((w) => h("th", { scope: "col" }, t(w))))),
      h("tbody", {}, ...rows)),
    error, formRow);
}

function sitePanel(panel: HTMLElement, site: Site, data: Data, changed: (site: Site, notice: string) => void): void {
  const close = h("button", { type: "button", class: "close", "aria-label": t("close") }, "×");
  close.addEventListener("click", () => {
    panel.hidden = true;
    panel.replaceChildren();
  });
  const dl = (word: Word, value: string | Node): HTMLElement[] => [h("dt", {}, t(word)), h("dd", {}, value)];
  panel.hidden = false;
  panel.dataset["siteId"] = site.id;
  panel.replaceChildren(
    h("header", {}, h("h2", { id: "site-panel-title", tabindex: "-1" }, `${site.code} ${site.name}`), close),
    h("dl", { class: "tip-dl" },
      ...dl("mn_kind", tr(`sk_${site.siteKind}`)),
      ...dl("mn_mineral", site.mineral || "—"),
      ...dl("mn_closedOn", site.closedOn ?? "—"),
      ...dl("mn_closure", tr(`cm_${site.closureMethod}`)),
      ...dl("status", statusBadge(site.status)),
      ...dl("mn_reason", h("span", { id: "site-status-reason-now" }, site.statusReason || "—")),
      ...dl("mn_statusSince", site.statusChangedAt ? localMinute(site.statusChangedAt) : "—")),
    statusForm(site, changed),
    h("h3", {}, t("mn_roster")),
    site.rosterComplete ? h("p", { class: "muted" }, t("mn_complete")) : h("p", { class: "warning", id: "site-gaps" },
      fill("mn_gaps", { roles: site.missingRoles.map((r) => tr(`rl_${r}`)).join("、") })),
    rosterTable(site, data, changed));
}

// -- the map -----------------------------------------------------------------------------------
function siteFeatures(sites: Site[]): Collection {
  return collection(sites.map((s) => ({
    type: "Feature",
    properties: { id: s.id, code: s.code, name: s.name, status: s.status },
    geometry: s.geometry as unknown as Geometry,
  })));
}

function legend(): HTMLElement {
  const box = h("section", { class: "legend", id: "site-legend", "aria-labelledby": "site-legend-title" },
    h("h2", { id: "site-legend-title" }, t("mn_legend")),
    h("ul", {}, ...MINE_STATUS.map((s) => {
      const swatch = h("span", { class: "swatch" });
      swatch.style.background = s.color;
      return h("li", {}, swatch, tr(s.word));
    })));
  return box;
}

// -- the page ----------------------------------------------------------------------------------
export async function mineSitesPage(main: HTMLElement): Promise<void> {
  main.replaceChildren(loading());
  let data: Data, config: ConsoleConfig, areas: Area[];
  try {
    [data, config, areas] = await Promise.all([load(), api<ConsoleConfig>("GET", "/console/config"), api<Area[]>("GET", "/areas")]);
  } catch (err) {
    main.replaceChildren(failure(err, () => void mineSitesPage(main)));
    return;
  }
  if (!main.isConnected) return;
  const filter: Filter = { gaps: false, overdue: false, status: "" };
  const gaps = h("input", { type: "checkbox", id: "site-only-gaps" });
  const overdue = h("input", { type: "checkbox", id: "site-only-overdue" });
  const status = h("select", { id: "site-filter-status" }, h("option", { value: "" }, t("mn_allStatuses")),
    ...SITE_STATUSES.map((s) => h("option", { value: s }, tr(`ms_${s}`))));
  const totals = h("p", { class: "totals", id: "site-totals" });
  const notice = h("p", { class: "done", role: "status", id: "site-notice" });
  const list = h("div", { class: "table-wrap", id: "site-list", "aria-live": "polite" });
  const panel = h("aside", { class: "card site-panel", id: "site-panel", "aria-labelledby": "site-panel-title", hidden: true });
  const container = h("div", { class: "review-map", id: "site-map" });

  const listed = (): Site[] => data.sites.filter((s) =>
    (!filter.gaps || !s.rosterComplete) && (!filter.overdue || overdueCount(s, data) > 0) && (!filter.status || s.status === filter.status));
  const open = (id: string): void => {
    const site = data.sites.find((s) => s.id === id);
    if (!site) return;
    sitePanel(panel, site, data, changed);
    panel.querySelector<HTMLElement>("#site-panel-title")?.focus();
  };
  const draw = (): void => {
    const withGaps = data.sites.filter((s) => !s.rosterComplete).length;
    const withLate = data.sites.filter((s) => overdueCount(s, data) > 0).length;
    totals.textContent = fill("mn_totals", { total: data.report.totalSites, complete: data.report.complete, gaps: withGaps, late: withLate });
    const rows = listed();
    view.setData("sites", siteFeatures(rows));
    if (rows.length === 0) {
      list.replaceChildren(h("p", { class: "muted", id: "site-empty" }, data.sites.length ? t("mn_noneMatch") : t("mn_none")));
      return;
    }
    list.replaceChildren(h("table", { class: "grid", id: "site-table" },
      h("thead", {}, h("tr", {}, ...(["col_code", "mn_name", "mn_kind", "status", "mn_roster", "mn_overdueCol", "fr_actions"] as const)
        .map((w) => h("th", { scope: "col" }, t(w))))),
      h("tbody", {}, ...rows.map((s) => {
        const late = overdueCount(s, data);
        const button = h("button", { type: "button", class: "link", "aria-label": `${t("mn_open")}：${s.code} ${s.name}` }, t("mn_open"));
        button.addEventListener("click", () => open(s.id));
        return h("tr", { "data-site-id": s.id, "data-code": s.code, "data-status": s.status,
          class: [s.rosterComplete ? "" : "has-gap", late ? "has-overdue" : ""].join(" ").trim() || undefined },
        h("td", { "data-col": "code" }, s.code),
        h("td", { "data-col": "name" }, s.name),
        h("td", { "data-col": "kind" }, tr(`sk_${s.siteKind}`)),
        h("td", { "data-col": "status" }, statusBadge(s.status)),
        h("td", { "data-col": "roster" }, rosterChips(s, data)),
        h("td", { "data-col": "overdue", class: late ? "num late" : "num" }, String(late)),
        h("td", {}, button));
      }))));
  };
  async function changed(site: Site, message: string): Promise<void> {
    notice.textContent = message;
    try {
      data = await load();
    } catch {
      // the change is stored; the figures catch up on the next visit
      data.sites = data.sites.map((s) => (s.id === site.id ? site : s));
    }
    draw();
    open(site.id);
  }
  for (const [box, key] of [[gaps, "gaps"], [overdue, "overdue"]] as const) {
    box.addEventListener("change", () => {
      filter[key] = box.checked;
      draw();
    });
  }
  status.addEventListener("change", () => {
    filter.status = status.value;
    draw();
  });

  main.replaceChildren(h("div", { class: "review-page sites-page" },
    h("div", { class: "toolbar" }, h("h1", {}, t("mineSites")),
      h("label", { for: "site-only-gaps", class: "check" }, gaps, t("mn_onlyGaps")),
      h("label", { for: "site-only-overdue", class: "check" }, overdue, t("mn_onlyOverdue")),
      h("label", { for: "site-filter-status" }, t("status")), status),
    totals,
    h("p", { class: "muted" }, t("mn_dutyNote")),
    notice,
    h("div", { class: "map-box sites-map" }, container, legend()),
    h("div", { class: "sites-layout" }, list, panel)));
  const colour = ["match", ["get", "status"], ...MINE_STATUS.flatMap((s) => [s.value, s.color]), "#546e7a"] as unknown as ExpressionSpecification;
  const view: ReviewMap = reviewMap(container, config, areaFeatures(areas.filter((a) => a.active)), { sites: siteFeatures(data.sites) }, [
    { id: "areas-line", type: "line", source: "areas", paint: { "line-color": "#1565c0", "line-width": 1.5, "line-opacity": 0.6 } },
    { id: "sites-fill", type: "fill", source: "sites", filter: ["==", ["geometry-type"], "Polygon"], paint: { "fill-color": colour, "fill-opacity": 0.6, "fill-outline-color": "#263238" } },
    { id: "sites-circle", type: "circle", source: "sites", filter: ["==", ["geometry-type"], "Point"], paint: { "circle-color": colour, "circle-radius": 7, "circle-stroke-color": "#ffffff", "circle-stroke-width": 2 } },
  ], boxOf(data.sites.map((s) => s.geometry)) ?? boxOf(areas.map((a) => a.geometry)));
  for (const layer of ["sites-fill", "sites-circle"]) {
    view.map.on("click", layer, (e) => {
      const id = e.features?.[0]?.properties?.["id"];
      if (typeof id === "string") open(id);
    });
    view.map.on("mouseenter", layer, () => { view.map.getCanvas().style.cursor = "pointer"; });
    view.map.on("mouseleave", layer, () => { view.map.getCanvas().style.cursor = ""; });
  }
  draw();
}
