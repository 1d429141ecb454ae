// Five-to-one duty (五包一值守), for captains and admins: who holds each closed site's duty and
// how often (GetDutyStatus over the last 30 days: the last check, the next one due, checks done
// against those due, who is overdue), recording a check's result for a member
// (RecordDutyCheck; signs of reopening or active mining alert the captains and flag the site)
// and the checks recorded in the period (ListDutyChecks).
import { type Schemas, api, uuid7 } from "./api";
import { h } from "./dom";
import { type Word, fill, t, tr } from "./i18n";
import { ROSTER_ROLES } from "./sitestatus";
import { failure, fromLocalInput, loading, localInput, localMinute, problemText } from "./view";

type SiteDuty = Schemas["SiteDuty"];
type MemberDuty = Schemas["MemberDuty"];
type Check = Schemas["DutyCheck"];
type User = Schemas["User"];

const RESULTS = ["still_closed", "signs_of_reopening", "active_mining"] as const;
const PERIOD_DAYS = 30;

interface Data {
  sites: SiteDuty[];
  checks: Check[];
  users: Map<string, User>;
}

async function load(): Promise<Data> {
  const since = new Date(Date.now() - PERIOD_DAYS * 86_400_000).toISOString();
  const [sites, checks, users] = await Promise.all([
    api<SiteDuty[]>("GET", "/duty-status"),
    api<Check[]>("GET", `/duty-checks?${new URLSearchParams({ since, limit: "200" }).toString()}`),
    api<User[]>("GET", "/admin/users").catch(() => [] as User[]),  // names only
  ]);
  const order = (role: string): number => (ROSTER_ROLES as readonly string[]).indexOf(role);
  for (const s of sites) s.members.sort((a, b) => order(a.role) - order(b.role));
  return { sites, checks, users: new Map(users.map((u) => [u.id, u])) };
}

/** ``每天``, ``每周``, ``每 3.5 天``: a member's duty cycle. */
export function cycleText(days: number): string {
  if (days === 1) return t("dt_daily");
  if (days === 7) return t("dt_weekly");
  if (days === 30) return t("dt_monthly");
  return fill("dt_everyDays", { n: Number(days.toFixed(1)) });
}

function memberRow(site: SiteDuty, m: MemberDuty, record: (site: SiteDuty, m: MemberDuty) => void): HTMLElement {
  const button = h("button", { type: "button", class: "link", "aria-label": `${t("dt_record")}：${site.siteName} ${m.name}` }, t("dt_record"));
  button.addEventListener("click", () => record(site, m));
  const behind = m.checksInPeriod < m.requiredInPeriod;
  return h("tr", { "data-member-id": m.memberId, "data-role": m.role, class: m.overdue ? "overdue" : undefined },
    h("td", {}, tr(`rl_${m.role}`)),
    h("td", { "data-col": "name" }, m.name || "—"),
    h("td", { "data-col": "cycle" }, cycleText(m.cycleDays)),
    h("td", { "data-col": "last", class: "nowrap" }, m.lastCheckAt ? localMinute(m.lastCheckAt) : t("mn_never")),
    h("td", { "data-col": "due", class: "nowrap" }, m.dueAt ? localMinute(m.dueAt) : t("dt_dueNow")),
    h("td", { "data-col": "done", class: behind ? "num late" : "num" }, `${m.checksInPeriod}/${m.requiredInPeriod}`),
    h("td", { "data-col": "state" }, m.overdue ? h("strong", {}, t("mn_overdue")) : t("mn_onTime")),
    h("td", { class: "nowrap" }, button));
}

function siteCard(site: SiteDuty, record: (site: SiteDuty, m: MemberDuty) => void): HTMLElement {
  const last = site.lastStatus
    ? fill("dt_lastStatus", { status: tr(`dcs_${site.lastStatus}`), at: site.lastStatusAt ? localMinute(site.lastStatusAt) : "" })
    : t("dt_noChecks");
  return h("section", { class: "card duty-site", "data-site-id": site.siteId, "aria-labelledby": `duty-site-${site.siteId}` },
    h("h2", { id: `duty-site-${site.siteId}` }, site.siteName,
      site.overdueCount ? h("span", { class: "late" }, ` · ${fill("dt_overdueN", { n: site.overdueCount })}`) : null),
    h("p", { class: site.lastStatus && site.lastStatus !== "still_closed" ? "warning" : "muted" }, last),
    h("table", { class: "grid" },
      h("thead", {}, h("tr", {}, ...(["mn_role", "mn_holder", "mn_period", "mn_lastCheck", "mn_nextDue", "dt_doneDue", "status", "fr_actions"] as const)
        .map((w) => h("th", { scope: "col" }, t(w))))),
      h("tbody", {}, ...site.members.map((m) => memberRow(site, m, record)))));
}

function recordForm(data: Data, done: (check: Check, siteName: string) => void): { form: HTMLElement; choose: (siteId: string, memberId: string) => void } {
  let checkId = uuid7();  // one id per check: a retry after a lost answer is the same check
  const site = h("select", { id: "duty-site", required: true }, ...data.sites.map((s) => h("option", { value: s.siteId }, s.siteName)));
  const member = h("select", { id: "duty-member", required: true });
  const fillMembers = (memberId = ""): void => {
    const s = data.sites.find((x) => x.siteId === site.value);
    member.replaceChildren(...(s?.members ?? []).map((m) =>
      h("option", { value: m.memberId, selected: m.memberId === memberId }, `${tr(`rl_${m.role}`)} · ${m.name || "—"}`)));
  };
  site.addEventListener("change", () => fillMembers());
  fillMembers();
  const at = h("input", { id: "duty-at", type: "datetime-local", required: true, value: localInput(new Date()) });
  const result = h("select", { id: "duty-result" }, ...RESULTS.map((r) => h("option", { value: r }, tr(`dcs_${r}`))));
  const night = h("select", { id: "duty-night" },
    h("option", { value: "" }, t("dt_nightAuto")), h("option", { value: "yes" }, t("yes")), h("option", { value: "no" }, t("no")));
  const note = h("textarea", { id: "duty-note", rows: "2", maxlength: "4000" });
  const warn = h("p", { class: "warning", id: "duty-warn", hidden: true }, t("dt_alertWarn"));
  result.addEventListener("change", () => { warn.hidden = result.value === "still_closed"; });
  const save = h("button", { type: "submit" }, t("dt_save"));
  const error = h("p", { class: "error", role: "alert", id: "duty-error" });
  const field = (id: string, word: Word, control: HTMLElement): HTMLElement =>
    h("div", { class: "form-field" }, h("label", { for: id }, t(word)), control);
  const form = h("form", { class: "card duty-form", id: "duty-form", "aria-labelledby": "duty-form-title" },
    h("h2", { id: "duty-form-title" }, t("dt_recordTitle")),
    h("div", { class: "form-grid" },
      field("duty-site", "dt_site", site), field("duty-member", "dt_member", member),
      field("duty-at", "dt_checkedAt", at), field("duty-result", "dt_result", result),
      field("duty-night", "dt_night", night)),
    field("duty-note", "pl_note", note),
    warn, save, error);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!site.value || !member.value) {
      error.textContent = t("dt_needMember");
      return;
    }
    save.disabled = true;
    error.textContent = "";
    const body: Record<string, unknown> = {
      siteId: site.value,
      memberId: member.value,
      checkedAt: fromLocalInput(at.value),
      status: result.value,
      note: note.value.trim(),
    };
    if (night.value) body["isNight"] = night.value === "yes";
    const siteName = site.selectedOptions[0]?.textContent ?? "";
    api<Check>("PUT", `/duty-checks/${checkId}`, body)
      .then((check) => {
        checkId = uuid7();
        save.disabled = false;
        note.value = "";
        done(check, siteName);
      })
      .catch((err: unknown) => {
        save.disabled = false;
        error.textContent = problemText(err);
      });
  });
  const choose = (siteId: string, memberId: string): void => {
    site.value = siteId;
    fillMembers(memberId);
    at.value = localInput(new Date());
    form.scrollIntoView({ block: "nearest" });
    result.focus();
  };
  return { form, choose };
}

function checksTable(data: Data): HTMLElement {
  if (data.checks.length === 0) return h("p", { class: "muted", id: "duty-checks-empty" }, t("dt_noChecksPeriod"));
  const sites = new Map(data.sites.map((s) => [s.siteId, s]));
  const who = (c: Check): string => {
    const m = sites.get(c.siteId)?.members.find((x) => x.memberId === c.memberId);
    return m ? `${tr(`rl_${m.role}`)} · ${m.name}` : "—";
  };
  return h("table", { class: "grid", id: "duty-checks" },
    h("thead", {}, h("tr", {}, ...(["dt_checkedAt", "dt_site", "dt_member", "dt_result", "dt_night", "dt_recordedBy", "pl_note"] as const)
      .map((w) => h("th", { scope: "col" }, t(w))))),
    h("tbody", {}, ...data.checks.map((c) => h("tr", { "data-check-id": c.id, "data-status": c.status, class: c.status === "still_closed" ? undefined : "late" },
      h("td", { class: "nowrap" }, localMinute(c.checkedAt)),
      h("td", {}, sites.get(c.siteId)?.siteName ?? "—"),
      h("td", {}, who(c)),
      h("td", { "data-col": "result" }, tr(`dcs_${c.status}`)),
      h("td", {}, c.isNight ? t("yes") : t("no")),
      h("td", {}, data.users.get(c.recordedBy)?.displayName ?? "—"),
      h("td", {}, c.note || "—")))));
}

export async function dutyPage(main: HTMLElement, notice = "", overdueOnly = false): Promise<void> {
  main.replaceChildren(loading());
  let data: Data;
  try {
    data = await load();
  } catch (err) {
    main.replaceChildren(failure(err, () => void dutyPage(main, notice, overdueOnly)));
    return;
  }
  if (!main.isConnected) return;
  const only = h("input", { type: "checkbox", id: "duty-only-overdue", checked: overdueOnly });
  only.addEventListener("change", () => void dutyPage(main, "", only.checked));
  const members = data.sites.flatMap((s) => s.members);
  const late = members.filter((m) => m.overdue).length;
  const due = members.reduce((n, m) => n + m.requiredInPeriod, 0);
  const done = members.reduce((n, m) => n + m.checksInPeriod, 0);
  const { form, choose } = recordForm(data, (check, siteName) =>
    void dutyPage(main, fill("dt_saved", { site: siteName, result: tr(`dcs_${check.status}`), at: localMinute(check.checkedAt) }), overdueOnly));
  const shown = overdueOnly ? data.sites.filter((s) => s.overdueCount > 0) : data.sites;
  main.replaceChildren(h("div", { class: "review-page duty-page" },
    h("div", { class: "toolbar" }, h("h1", {}, t("duty")),
      h("label", { for: "duty-only-overdue", class: "check" }, only, t("mn_onlyOverdue"))),
    h("p", { class: "totals", id: "duty-totals" },
      fill("dt_totals", { days: PERIOD_DAYS, sites: data.sites.length, members: members.length, late, due, done })),
    h("p", { class: "done", role: "status", id: "duty-notice" }, notice),
    h("div", { class: "duty-layout" },
      h("div", { class: "duty-sites", id: "duty-sites" },
        ...(data.sites.length === 0 ? [h("p", { class: "muted" }, t("dt_noSites"))]
          : shown.length === 0 ? [h("p", { class: "muted" }, t("dt_noneOverdue"))]
            : shown.map((s) => siteCard(s, (site, m) => choose(site.siteId, m.memberId))))),
      data.sites.length ? form : null),
    h("section", { class: "card", "aria-labelledby": "duty-checks-title" },
      h("h2", { id: "duty-checks-title" }, fill("dt_checksTitle", { days: PERIOD_DAYS })), checksTable(data))));
}
