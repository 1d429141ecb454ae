// 发现问题 for captains, admins and the security squad: the county's findings the API gives the
// caller (ListCountyFindings — captains every finding, the squad those screened above a criminal
// threshold, flagged, or the source of a case it sees), by month, area, screening and flag, in
// pages; a finding's panel with its place and location check, its land use, the screening
// suggestions (hints for a human: never a referral by themselves), its evidence, and for the
// squad and captains the flag for a criminal referral (FlagForReferral) with its reason — the
// referrals page then lists it. A link may name a patrol (its findings) and a finding to open.
import { type Area, type Schemas, api, savedMe } from "./api";
import { h, questions } from "./dom";
import { fill, t, tr } from "./i18n";
import { flagLabel, linkedEvidence } from "./evidence";
import { FLAGGERS, pagesFor } from "./menu";
import {
  facts, failure, fixed, loading, localMinute, localTime, locationHits, monthRange, pageLink, pageParam, problemText,
  refusedRole,
} from "./view";

type Finding = Schemas["Finding"];
type FindingPage = Schemas["FindingPage"];
type Flag = Schemas["Flag"];
type Suggestion = Schemas["Suggestion"];
type Township = Schemas["Township"];
type User = Schemas["User"];

const PAGE = 50;

interface Filter {
  month: string;
  area: string;
  patrol: string;
  suggested: boolean;
  flagged: boolean;
}

interface Ctx {
  names: Map<string, string>;
  townships: Map<string, string>;
  flags: Map<string, Flag[]>;  // by finding id; empty for a role the API refuses the flags
  pages: Set<string>;
  me: string;
  role: string;
}

function query(f: Filter, cursor: string | null): string {
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (f.month) {
    const [from, to] = monthRange(f.month);
    q.set("found_from", from);
    q.set("found_to", to);
  }
  if (f.area) q.set("area_id", f.area);
  if (f.patrol) q.set("patrol_id", f.patrol);
  if (f.suggested) q.set("suggested", "true");
  if (f.flagged) q.set("flagged", "true");
  if (cursor) q.set("cursor", cursor);
  return q.toString();
}

function area(f: Finding): string {
  if (f.occupiedAreaMu == null) return "—";
  return `${fixed(f.occupiedAreaMu, 2)} ${t("mu")}`;
}

// -- the panel -----------------------------------------------------------------------------------
function suggestionList(items: Suggestion[]): HTMLElement {
  if (items.length === 0) return h("p", { class: "muted", id: "fd-suggestions" }, t("fd_noSuggestion"));
  return h("ul", { class: "fd-suggestions", id: "fd-suggestions" }, ...items.map((s) =>
    h("li", { "data-rule": s.ruleCode },
      h("strong", {}, s.crime), ` · ${tr(`lvl_${s.level}`)}`,
      h("p", { class: "fd-message" }, s.message),
      h("p", { class: "muted" },
        `${t("fd_value")} ${s.value} ${tr(`u_${s.unit}`)} · ${t("fd_threshold")} ${s.threshold} ${tr(`u_${s.unit}`)} · ${s.ruleCode}`),
      h("p", { class: "muted" }, s.citation))));
}

function flagSection(ctx: Ctx, f: Finding, changed: () => void): HTMLElement {
  const section = h("section", { class: "fd-flag", "aria-labelledby": "fd-flag-title" },
    h("h3", { id: "fd-flag-title" }, t("fd_flagTitle")));
  const flags = ctx.flags.get(f.id) ?? [];
  if (flags.length) {
    section.append(h("ul", { id: "fd-flags" }, ...flags.map((x) =>
      h("li", {}, `${localMinute(x.flaggedAt)} · ${ctx.names.get(x.flaggedBy) ?? x.flaggedBy.slice(0, 8)}：${x.reason}`))));
  }
  const mine = flags.some((x) => x.flaggedBy === ctx.me);
  if (!FLAGGERS.includes(ctx.role) || mine) {
    if (mine) section.append(h("p", { id: "fd-flagged" }, t("fd_flaggedByMe"), " ", referralsLink(ctx)));
    else if (!flags.length) section.append(h("p", { class: "muted" }, t("fd_notFlagged")));
    return section;
  }
  const reason = h("textarea", { id: "fd-flag-reason", rows: "3", maxlength: "4000", required: true });
  reason.value = (f.suggestions ?? []).map((s) => s.message).join("；");
  const error = h("p", { class: "error", id: "fd-flag-error", role: "alert" });
  const submit = h("button", { type: "submit", id: "fd-flag-submit" }, t("fd_flagIt"));
  const form = h("form", { class: "reason-form", id: "fd-flag-form" },
    h("label", { for: "fd-flag-reason" }, t("fd_flagReason")), reason,
    h("p", { class: "muted" }, t("fd_flagHint")),
    h("div", { class: "buttons" }, submit), error);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    error.textContent = "";
    if (!reason.value.trim()) {
      error.textContent = t("fd_reasonNeeded");
      reason.focus();
      return;
    }
    submit.disabled = true;
    api<Flag>("POST", "/referral-flags", { findingId: f.id, reason: reason.value.trim() })
      .then((flag) => {
        ctx.flags.set(f.id, [...(ctx.flags.get(f.id) ?? []), flag]);
        changed();
      })
      .catch((err: unknown) => {
        submit.disabled = false;
        error.textContent = problemText(err);
      });
  });
  section.append(form);
  return section;
}

function referralsLink(ctx: Ctx): HTMLElement | string {
  return ctx.pages.has("referrals") ? h("a", { href: "#/referrals", id: "fd-to-referrals" }, t("fd_toReferrals")) : "";
}

function showFinding(ctx: Ctx, panel: HTMLElement, f: Finding, changed: (f: Finding) => void): void {
  panel.hidden = false;
  const close = h("button", { type: "button", class: "close", "aria-label": t("close") }, "×");
  close.addEventListener("click", () => {
    panel.hidden = true;
    panel.replaceChildren();
  });
  const place = [f.townshipId ? ctx.townships.get(f.townshipId) : null, `${f.lon.toFixed(6)}, ${f.lat.toFixed(6)}`]
    .filter(Boolean).join(" · ");
  const check = f.locationCheck;
  panel.replaceChildren(
    h("header", {}, h("h2", { id: "fd-panel-title" }, f.projectName), close),
    facts("fd-facts", [
      [t("fd_foundAt"), localTime(f.foundAt)],
      [t("fd_reporter"), ctx.names.get(f.reportedBy) ?? f.reportedBy.slice(0, 8)],
      [t("fd_builder"), f.builder || null],
      [t("fd_startedOn"), f.constructionStartedOn ?? null],
      [t("fd_status"), tr(`cs_${f.constructionStatus}`)],
      [t("fd_area"), f.occupiedAreaM2 != null ? `${fixed(f.occupiedAreaM2, 1)} m² · ${area(f)}` : null],
      [t("fd_place"), `${place}${f.accuracyM != null ? ` ±${fixed(f.accuracyM, 0)} ${t("metres")}` : ""}`],
      [t("fd_landClass"), f.landClassLabel ?? (f.landClass ? tr(`lc_${f.landClass}`) : null)],
      [t("fd_landUse"), (f.landUse ?? []).length
        ? `${(f.landUse ?? []).map((u) => `${u.landClassLabel} ${fixed(u.areaMu, 2)} ${t("mu")}`).join("；")}（${tr(`lub_${f.landUseBasis ?? ""}`)}）`
        : null],
      [t("fd_marks"), f.flags?.length ? f.flags.map(flagLabel).join("；") : null],
      [t("note"), f.note || null],
      [t("fd_patrol"), ctx.pages.has("patrols") ? h("a", { href: pageLink("patrols", { patrol: f.patrolId }) }, t("fd_openPatrol")) : null],
    ]),
    h("section", { "aria-labelledby": "fd-sug-title" },
      h("h3", { id: "fd-sug-title" }, t("fd_screening")),
      h("p", { class: "muted" }, t("fd_screeningNote")),
      suggestionList(f.suggestions ?? [])),
    flagSection(ctx, f, () => changed(f)),
    h("section", { "aria-labelledby": "fd-check-title" },
      h("h3", { id: "fd-check-title" }, t("fd_locationCheck")),
      check
        ? h("div", { id: "fd-location-check" },
          check.outsideCounty ? h("p", { class: "warning" }, t("tf_outside_county")) : null,
          locationHits(check.features),
          check.layerVersions.length
            ? h("p", { class: "muted" }, `${t("fd_layerVersions")}：${check.layerVersions.map((v) => `${tr(v.kind)} v${v.versionNo}`).join("、")}`)
            : null)
        : h("p", { class: "muted", id: "fd-location-check" }, t("fd_noCheck"))),
    h("section", { "aria-labelledby": "fd-ev-title" },
      h("h3", { id: "fd-ev-title" }, t("ev_evidence")),
      linkedEvidence({ finding_id: f.id }, null)));
}

// -- the page ------------------------------------------------------------------------------------
export async function findingsPage(main: HTMLElement): Promise<void> {
  const me = savedMe();
  const [users, townships, areas, flags] = await Promise.all([
    api<User[]>("GET", "/admin/users").catch(() => [] as User[]),
    api<Township[]>("GET", "/townships").catch(() => [] as Township[]),
    api<Area[]>("GET", "/areas?include_inactive=true").catch(() => [] as Area[]),
    api<Flag[]>("GET", "/referral-flags?findings_only=true").catch((err: unknown) => {
      if (refusedRole(err)) return [] as Flag[];
      throw err;
    }),
  ]);
  const ctx: Ctx = {
    names: new Map(users.map((u) => [u.id, u.displayName])),
    townships: new Map(townships.map((tw) => [tw.id, tw.name])),
    flags: new Map(),
    pages: new Set(pagesFor(me?.role ?? "").map((p) => p.id)),
    me: me?.id ?? "",
    role: me?.role ?? "",
  };
  for (const flag of flags) {
    if (flag.findingId) ctx.flags.set(flag.findingId, [...(ctx.flags.get(flag.findingId) ?? []), flag]);
  }
  const filter: Filter = { month: "", area: "", patrol: pageParam("patrol") ?? "", suggested: false, flagged: false };
  const month = h("input", { type: "month", id: "fd-month" });
  const areaSelect = h("select", { id: "fd-area" }, h("option", { value: "" }, t("pt_allAreas")),
    ...areas.map((a) => h("option", { value: a.id }, `${a.code} ${a.name}`)));
  const suggested = h("input", { type: "checkbox", id: "fd-suggested" });
  const flagged = h("input", { type: "checkbox", id: "fd-flagged-only" });
  const patrolChip = h("span", { class: "chip", id: "fd-patrol-filter", hidden: !filter.patrol });
  const list = h("div", { id: "fd-list", "aria-live": "polite" }, loading());
  const more = h("button", { type: "button", id: "fd-more", hidden: true }, t("loadMore"));
  const panel = h("section", { class: "card fd-panel", id: "fd-panel", "aria-labelledby": "fd-panel-title", hidden: true });
  const shown = new Map<string, Finding>();
  let cursor: string | null = null;
  let body: HTMLElement | null = null;

  const row = (f: Finding): HTMLElement => {
    const button = h("button", { type: "button", class: "open", "aria-label": `${t("fd_open")}：${f.projectName}` }, t("fd_open"));
    button.addEventListener("click", () => open(f.id));
    const flaggedNow = (ctx.flags.get(f.id) ?? []).length > 0;
    return h("tr", { "data-finding-id": f.id, class: (f.suggestions ?? []).length ? "fd-suggested" : undefined },
      h("td", { class: "nowrap" }, localMinute(f.foundAt)),
      h("td", { "data-col": "project" }, f.projectName),
      h("td", {}, tr(`cs_${f.constructionStatus}`)),
      h("td", { class: "num" }, area(f)),
      h("td", {}, f.landClassLabel ?? (f.landClass ? tr(`lc_${f.landClass}`) : "—")),
      h("td", { "data-col": "suggestion" }, (f.suggestions ?? []).length
        ? h("span", { class: "sev sev-high" }, fill("fd_hints", { n: (f.suggestions ?? []).length }))
        : "—"),
      h("td", { "data-col": "flagged" }, flaggedNow ? t("fd_flaggedMark") : "—"),
      h("td", {}, button));
  };
  const open = (id: string): void => {
    const f = shown.get(id);
    if (!f) return;
    list.querySelectorAll("tr.current").forEach((r) => r.classList.remove("current"));
    list.querySelector(`tr[data-finding-id="${id}"]`)?.classList.add("current");
    showFinding(ctx, panel, f, (changed) => {
      list.querySelector(`tr[data-finding-id="${changed.id}"]`)?.replaceWith(row(changed));
      open(changed.id);
    });
  };
  const asked = questions();
  const load = async (append: boolean): Promise<void> => {
    const current = append ? asked.same() : asked.ask();
    if (!append) {
      cursor = null;
      shown.clear();
      list.replaceChildren(loading());
    }
    let page: FindingPage;
    try {
      page = await api<FindingPage>("GET", `/findings?${query(filter, cursor)}`);
    } catch (err) {
      if (current()) list.replaceChildren(failure(err, () => void load(false)));
      return;
    }
    if (!current()) return;  // asked again meanwhile: the newer answer shows
    cursor = page.nextCursor ?? null;
    more.hidden = !cursor;
    for (const f of page.items) shown.set(f.id, f);
    if (!append || !body) {
      if (page.items.length === 0) {
        list.replaceChildren(h("p", { class: "muted", id: "fd-empty" },
          ctx.role === "security_squad" ? t("fd_noneSquad") : t("fd_none")));
        return;
      }
      body = h("tbody", {}, ...page.items.map(row));
      list.replaceChildren(h("div", { class: "table-wrap" }, h("table", { class: "grid", id: "fd-table" },
        h("thead", {}, h("tr", {}, ...(["fd_foundAt", "fd_project", "fd_status", "fd_area", "fd_landClass", "fd_suggestions", "fd_flaggedCol", "fd_open"] as const)
          .map((w) => h("th", { scope: "col" }, t(w))))),
        body)));
    } else {
      body.append(...page.items.map(row));
    }
  };
  const refilter = (): void => {
    filter.month = month.value;
    filter.area = areaSelect.value;
    filter.suggested = suggested.checked;
    filter.flagged = flagged.checked;
    panel.hidden = true;
    void load(false);
  };
  for (const control of [month, areaSelect, suggested, flagged]) control.addEventListener("change", refilter);
  more.addEventListener("click", () => void load(true));
  if (filter.patrol) {
    const clear = h("button", { type: "button", class: "link", "aria-label": t("fd_clearPatrol") }, "×");
    clear.addEventListener("click", () => {
      filter.patrol = "";
      patrolChip.hidden = true;
      void load(false);
    });
    patrolChip.append(`${t("fd_ofPatrol")} ${filter.patrol.slice(0, 8)} `, clear);
  }
  main.replaceChildren(h("div", { class: "review-page findings-page" },
    h("div", { class: "toolbar" }, h("h1", {}, t("findings")),
      h("label", { for: "fd-month" }, t("pt_month")), month,
      areas.length ? h("label", { for: "fd-area" }, t("pt_area")) : null, areas.length ? areaSelect : null,
      h("label", { for: "fd-suggested", class: "check" }, suggested, t("fd_suggestedOnly")),
      h("label", { for: "fd-flagged-only", class: "check" }, flagged, t("fd_flaggedOnly")),
      patrolChip),
    ctx.role === "security_squad" ? h("p", { class: "muted" }, t("fd_squadSees")) : null,
    h("div", { class: "fd-layout" }, h("div", {}, list, more), panel)));
  await load(false);
  const wanted = pageParam("finding");
  if (wanted) open(wanted);
}
