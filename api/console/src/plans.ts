// Patrol plans (巡查计划). Captains and admins: every area's plan for a month (ListPlans) in a
// table; the chosen area's plan (targets, quota, weekly and night minimums, inspectors, note)
// and its editing (UpsertPlan); a calendar of the area's month — the days with patrols and their
// counts, each week's minimum, the quota and how far the month is from it, on the quota's own
// counting rule (GetCoverage's days and weeks), a day's patrols on request (ListPatrols by area
// and day); and the frequency rules (ListFrequencyRules, SetFrequencyRule, DeleteFrequencyRule).
// An inspector reads his own plans (GetMyPlan) and changes nothing.
import { type Schemas, api, savedMe, uuid7 } from "./api";
import { h } from "./dom";
import { type Word, fill, t, tr } from "./i18n";
import { dayRange, failure, fixed, loading, localMinute, localTime, problemText, today } from "./view";

type Plan = Schemas["Plan"];
type Rule = Schemas["FrequencyRule"];
type Coverage = Schemas["Coverage"];
type AreaCoverage = Schemas["AreaCoverage"];
type Area = Schemas["Area"];
type Target = Schemas["Target"];
type User = Schemas["User"];
type Patrol = Schemas["Patrol"];

const MANAGERS = ["captain", "admin"];
// who may be put on a plan's team in the form (people already on it are always offered)
const PATROLLERS = ["inspector", "joint_team", "captain"];
const WEEKDAYS: Word[] = ["wd_mon", "wd_tue", "wd_wed", "wd_thu", "wd_fri", "wd_sat", "wd_sun"];

interface Ctx {
  main: HTMLElement;
  month: string;
  areaId: string;
  areas: Area[];
  plans: Plan[];
  rules: Rule[];
  users: Map<string, User>;
  coverage: Promise<Coverage>;
}

/** Names of the county's people the caller may see (a convenience: empty when refused). */
async function userMap(): Promise<Map<string, User>> {
  try {
    return new Map((await api<User[]>("GET", "/admin/users")).map((u) => [u.id, u]));
  } catch {
    return new Map();
  }
}

function nameOf(users: Map<string, User>, id: string): string {
  return users.get(id)?.displayName ?? t("pl_unknownPerson");
}

function monthPicker(id: string, month: string, go: (month: string) => void): HTMLElement[] {
  const picker = h("input", { type: "month", id, value: month, required: true });
  picker.addEventListener("change", () => {
    if (picker.value && picker.value !== month) go(picker.value);
  });
  return [h("label", { for: id }, t("month")), picker];
}

function labelled(id: string, word: Word, control: HTMLElement): HTMLElement {
  return h("div", { class: "form-field" }, h("label", { for: id }, t(word)), control);
}

function count(id: string, value: number, min = 0, max = 100): HTMLInputElement {
  return h("input", { id, type: "number", min: String(min), max: String(max), step: "1", required: true, value: String(value) });
}

// -- a plan, read ------------------------------------------------------------------------------
function sourceText(p: Plan, rules: Rule[]): string {
  const r = p.requirement;
  if (r.source === "plan") return t("pl_src_plan");
  if (r.source === "rule") {
    const rule = rules.find((x) => x.id === r.ruleId);
    return rule ? `${t("pl_src_rule")}：${rule.name}` : t("pl_src_rule");
  }
  return t("pl_src_default");
}

function targetItem(x: Plan["targets"][number]): HTMLElement {
  return h("li", { "data-target-id": x.id, class: x.overdue ? "late" : undefined },
    x.name, h("span", { class: "muted" }, `（${tr(`tk_${x.kind}`)}）`),
    x.dueOn ? ` · ${t("pl_dueOn")} ${x.dueOn}` : "",
    x.overdue ? h("strong", {}, ` · ${t("pl_targetOverdue")}`) : "");
}

function planCard(p: Plan, users: Map<string, User>, rules: Rule[], edit: (() => void) | null): HTMLElement {
  const r = p.requirement;
  const figure = (name: string, n: number): HTMLElement => h("dd", { "data-figure": name }, fill("pl_times", { n }));
  const people = p.inspectorIds.map((id) => nameOf(users, id)).join("、");
  let button: HTMLButtonElement | null = null;
  if (edit) {
    button = h("button", { type: "button", id: "plan-edit" }, t("pl_edit"));
    button.addEventListener("click", edit);
  }
  return h("section", { class: "card plan-card", "data-area-id": p.areaId, "data-month": p.month, "aria-labelledby": `plan-title-${p.areaId}` },
    h("h2", { id: `plan-title-${p.areaId}` }, `${p.areaCode} ${p.areaName} · ${fill("pl_monthPlan", { month: p.month })}`),
    h("p", { class: "muted", "data-col": "source" }, sourceText(p, rules)),
    h("dl", { class: "plan-dl" },
      h("dt", {}, t("col_quota")), figure("quota", r.minPerMonth),
      h("dt", {}, t("pl_perWeek")), figure("perWeek", r.minPerWeek),
      h("dt", {}, t("pl_nightMonth")), figure("nightMonth", r.minNightPerMonth),
      h("dt", {}, t("pl_nightWeek")), figure("nightWeek", r.minNightPerWeek),
      h("dt", {}, t("col_grade")), h("dd", {}, String(p.grade)),
      h("dt", {}, t("pl_inspectors")), h("dd", { "data-col": "inspectors" }, people || "—"),
      h("dt", {}, t("pl_note")), h("dd", { "data-col": "note" }, p.note || "—")),
    h("h3", {}, `${t("pl_targets")}（${p.targets.length}）`),
    p.targets.length ? h("ul", { class: "plan-targets" }, ...p.targets.map(targetItem)) : h("p", { class: "muted" }, t("pl_noTargets")),
    button);
}

// -- a plan, edited ----------------------------------------------------------------------------
function checkList(name: string, legend: Word, items: Array<{ id: string; label: string; checked: boolean }>, empty: Word): HTMLElement {
  const set = h("fieldset", { class: "check-list", id: `${name}-list` }, h("legend", {}, t(legend)));
  if (items.length === 0) set.append(h("p", { class: "muted" }, t(empty)));
  for (const item of items) {
    const box = h("input", { type: "checkbox", name, value: item.id, id: `${name}-${item.id}`, checked: item.checked });
    set.append(h("label", { for: box.id, class: "check" }, box, item.label));
  }
  return set;
}

function checked(form: HTMLElement, name: string): string[] {
  return [...form.querySelectorAll<HTMLInputElement>(`input[name="${name}"]:checked`)].map((b) => b.value);
}

async function planForm(ctx: Ctx, p: Plan, done: (next: Plan) => void, cancel: () => void): Promise<HTMLElement> {
  const targets = await api<Target[]>("GET", `/areas/${p.areaId}/targets`);
  const r = p.requirement;
  const quota = count("plan-quota", r.minPerMonth);
  const perWeek = count("plan-per-week", r.minPerWeek);
  const night = count("plan-night", r.minNightPerMonth);
  const nightWeek = count("plan-night-week", r.minNightPerWeek);
  const note = h("textarea", { id: "plan-note", rows: "2", maxlength: "2000" }, p.note);
  const planned = new Set(p.targets.map((x) => x.id));
  const team = new Set(p.inspectorIds);
  const people = [...ctx.users.values()]
    .filter((u) => team.has(u.id) || (u.active && PATROLLERS.includes(u.role)))
    .sort((a, b) => a.displayName.localeCompare(b.displayName, "zh-CN"));
  const save = h("button", { type: "submit" }, t("pl_save"));
  const back = h("button", { type: "button", class: "link" }, t("cancel"));
  back.addEventListener("click", cancel);
  const error = h("p", { class: "error", role: "alert", id: "plan-error" });
  const form = h("form", { class: "card plan-form", id: "plan-form", "aria-labelledby": "plan-form-title" },
    h("h2", { id: "plan-form-title" }, `${fill("pl_editTitle", { area: `${p.areaCode} ${p.areaName}`, month: p.month })}`),
    p.planId ? null : h("p", { class: "muted" }, t("pl_newFromRule")),
    h("div", { class: "form-grid" },
      labelled("plan-quota", "col_quota", quota), labelled("plan-per-week", "pl_perWeek", perWeek),
      labelled("plan-night", "pl_nightMonth", night), labelled("plan-night-week", "pl_nightWeek", nightWeek)),
    checkList("plan-target", "pl_targets",
      targets.map((x) => ({ id: x.id, label: `${x.name}（${tr(`tk_${x.kind}`)}）`, checked: planned.has(x.id) })), "pl_noAreaTargets"),
    checkList("plan-inspector", "pl_inspectors",
      people.map((u) => ({ id: u.id, label: `${u.displayName}（${tr(`role_${u.role}`)}）`, checked: team.has(u.id) })), "pl_noPeople"),
    labelled("plan-note", "pl_note", note),
    h("div", { class: "buttons" }, save, back), error);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    save.disabled = true;
    error.textContent = "";
    api<Plan>("PUT", `/areas/${p.areaId}/plans/${ctx.month}`, {
      quota: Number(quota.value),
      minPerWeek: Number(perWeek.value),
      minNight: Number(night.value),
      minNightPerWeek: Number(nightWeek.value),
      targetIds: checked(form, "plan-target"),
      inspectorIds: checked(form, "plan-inspector"),
      note: note.value.trim(),
    })
      .then(done)
      .catch((err: unknown) => {
        save.disabled = false;
        error.textContent = problemText(err);
      });
  });
  return form;
}

// -- the calendar of an area's month -----------------------------------------------------------
function isoDay(y: number, m: number, d: number): string {
  return new Date(Date.UTC(y, m - 1, d)).toISOString().slice(0, 10);
}

function gapText(patrols: number, quota: number): { text: string; state: string } {
  if (quota === 0) return { text: t("pl_noQuota"), state: "no_quota" };
  if (patrols >= quota) {
    return { text: patrols > quota ? fill("pl_metOver", { n: patrols - quota }) : t("pl_met"), state: "met" };
  }
  return { text: fill("pl_short", { n: quota - patrols }), state: "not_met" };
}

function calendarGrid(month: string, a: AreaCoverage, openDay: (day: string) => void): HTMLElement {
  const [y, m] = month.split("-").map(Number) as [number, number];
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  const lead = (new Date(Date.UTC(y, m - 1, 1)).getUTCDay() + 6) % 7;  // Monday first
  const byDay = new Map((a.days ?? []).map((d) => [d.day, d]));
  const byWeek = new Map(a.weeks.map((w) => [w.weekStart, w]));
  const now = today();
  const rows: HTMLElement[] = [];
  for (let start = 1 - lead; start <= days; start += 7) {
    const cells: HTMLElement[] = [];
    for (let i = 0; i < 7; i++) {
      const d = start + i;
      if (d < 1 || d > days) {
        cells.push(h("td", { class: "cal-out" }));
        continue;
      }
      const day = isoDay(y, m, d);
      const found = byDay.get(day);
      const label = fill("pl_dayLabel", { m, d, n: found?.patrols ?? 0, night: found?.nightPatrols ?? 0 });
      let body: HTMLElement;
      if (found) {
        body = h("button", { type: "button", class: "cal-day", "aria-label": label },
          h("span", { class: "cal-date" }, String(d)),
          h("span", { class: "cal-count" }, fill("pl_times", { n: found.patrols })),
          found.nightPatrols ? h("span", { class: "cal-night" }, fill("pl_nightShort", { n: found.nightPatrols })) : null);
        body.addEventListener("click", () => openDay(day));
      } else {
        body = h("span", { class: "cal-date", "aria-label": label }, String(d));
      }
      cells.push(h("td", {
        "data-day": day,
        "data-patrols": String(found?.patrols ?? 0),
        class: [found ? "cal-patrolled" : "cal-empty", day === now ? "cal-today" : ""].join(" ").trim(),
        "aria-current": day === now ? "date" : undefined,
      }, body));
    }
    const monday = isoDay(y, m, start);
    const week = byWeek.get(monday);
    const state = !week ? "" : week.met === true ? "met" : week.met === false ? "not_met" : "running";
    cells.push(h("td", { class: `cal-week ${state}`.trim(), "data-week": monday },
      week ? `${week.patrols}/${week.required}` : "—",
      week ? h("span", { class: "muted" }, ` ${t(`wk_${state}` as Word)}`) : null));
    rows.push(h("tr", {}, ...cells));
  }
  return h("table", { class: "calendar", id: "plan-calendar", "aria-describedby": "plan-calendar-note" },
    h("caption", { class: "sr-only" }, fill("pl_calendarOf", { area: `${a.code} ${a.name}`, month })),
    h("thead", {}, h("tr", {}, ...WEEKDAYS.map((w) => h("th", { scope: "col" }, t(w))), h("th", { scope: "col" }, t("pl_weekCol")))),
    h("tbody", {}, ...rows));
}

async function dayPatrols(ctx: Ctx, area: AreaCoverage, day: string, into: HTMLElement): Promise<void> {
  into.replaceChildren(loading());
  const [since, until] = dayRange(day);
  const query = new URLSearchParams({ area_id: area.areaId, since, until, limit: "200" });
  let rows: Patrol[];
  try {
    rows = await api<Patrol[]>("GET", `/patrols?${query.toString()}`);
  } catch (err) {
    into.replaceChildren(failure(err, () => void dayPatrols(ctx, area, day, into)));
    return;
  }
  const title = h("h3", { id: "plan-day-title", tabindex: "-1" }, fill("pl_dayPatrols", { day }));
  into.replaceChildren(title,
    rows.length === 0 ? h("p", { class: "muted" }, t("pl_noDayPatrols")) : h("table", { class: "grid", id: "plan-day-table" },
      h("thead", {}, h("tr", {}, ...(["pl_start", "pl_end", "pl_who", "col_hours", "col_km", "pl_night"] as const).map((w) => h("th", { scope: "col" }, t(w))))),
      h("tbody", {}, ...[...rows].reverse().map((p) => h("tr", { "data-patrol-id": p.id },
        h("td", { class: "nowrap" }, localTime(p.startedAt).slice(11, 16)),
        h("td", { class: "nowrap" }, p.endedAt ? localMinute(p.endedAt).slice(11) : t("ongoing")),
        h("td", {}, [p.inspectorId, ...p.companionIds].map((id) => nameOf(ctx.users, id)).join("、")),
        h("td", { class: "num" }, fixed(p.durationS / 3600)),
        h("td", { class: "num" }, fixed(p.distanceM / 1000)),
        h("td", {}, p.isNight ? t("yes") : t("no")))))),
    h("p", { class: "muted" }, t("pl_dayNote")));
  title.focus();
}

function calendarCard(ctx: Ctx, cov: Coverage): HTMLElement {
  const a = cov.areas.find((x) => x.areaId === ctx.areaId);
  const box = h("section", { class: "card calendar-card", id: "plan-calendar-card", "aria-labelledby": "plan-calendar-title" });
  if (!a) {
    box.append(h("h2", { id: "plan-calendar-title" }, t("pl_calendar")), h("p", { class: "muted" }, t("pl_noCoverage")));
    return box;
  }
  const quota = a.requirement.minPerMonth;
  const gap = gapText(a.patrols, quota);
  const detail = h("div", { id: "plan-day", "aria-live": "polite" });
  box.append(
    h("h2", { id: "plan-calendar-title" }, `${t("pl_calendar")} · ${a.code} ${a.name} · ${cov.month}`),
    h("p", { class: "quota-line", id: "plan-quota-line", "data-state": gap.state },
      t("pl_counted"), " ", h("strong", { "data-figure": "patrols" }, String(a.patrols)), ` ${t("times")} / ${t("col_quota")} `,
      h("strong", { "data-figure": "quota" }, String(quota)), ` ${t("times")} · `,
      h("strong", { "data-figure": "gap" }, gap.text)),
    h("p", { class: "muted" }, `${t("col_weeks")} ${a.weeksMet}/${a.weeksTotal} · ${t("col_night")} ${a.nightPatrols}/${a.requirement.minNightPerMonth}`),
    calendarGrid(cov.month, a, (day) => void dayPatrols(ctx, a, day, detail)),
    h("p", { class: "muted", id: "plan-calendar-note" }, t("pl_calendarNote")),
    detail);
  return box;
}

// -- frequency rules ---------------------------------------------------------------------------
function scopeText(r: Rule, areas: Area[]): string {
  if (r.areaId) {
    const a = areas.find((x) => x.id === r.areaId);
    return fill("fr_areaN", { area: a ? `${a.code} ${a.name}` : r.areaId });
  }
  if (r.grade) return fill("fr_gradeN", { n: r.grade });
  return t("fr_scopeCounty");
}

function ruleForm(ctx: Ctx, rule: Rule | null, saved: (name: string) => void, cancel: () => void): HTMLElement {
  const id = rule?.id ?? uuid7();  // one id per form: a retry after a lost answer is the same rule
  const name = h("input", { id: "rule-name", required: true, maxlength: "100", value: rule?.name ?? "" });
  const scope = h("select", { id: "rule-scope" },
    h("option", { value: "county" }, t("fr_scopeCounty")),
    h("option", { value: "grade" }, t("fr_scopeGrade")),
    h("option", { value: "area" }, t("fr_scopeArea")));
  scope.value = rule?.areaId ? "area" : rule?.grade ? "grade" : "county";
  const grade = h("select", { id: "rule-grade" }, ...[1, 2, 3].map((g) =>
    h("option", { value: String(g), selected: rule?.grade === g }, fill("fr_gradeN", { n: g }))));
  const area = h("select", { id: "rule-area" }, ...ctx.areas.map((a) =>
    h("option", { value: a.id, selected: rule?.areaId === a.id }, `${a.code} ${a.name}`)));
  const gradeField = labelled("rule-grade", "col_grade", grade);
  const areaField = labelled("rule-area", "fr_scopeArea", area);
  const sync = (): void => {
    gradeField.hidden = scope.value !== "grade";
    areaField.hidden = scope.value !== "area";
  };
  scope.addEventListener("change", sync);
  sync();
  const day = (fieldId: string, value: string | null | undefined, example: string): HTMLInputElement =>
    h("input", { id: fieldId, pattern: "(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])", placeholder: example, maxlength: "5", size: "6", value: value ?? "" });
  const seasonStart = day("rule-season-start", rule?.seasonStart, "04-01");
  const seasonEnd = day("rule-season-end", rule?.seasonEnd, "10-31");
  const perMonth = count("rule-per-month", rule?.minPerMonth ?? 4);
  const perWeek = count("rule-per-week", rule?.minPerWeek ?? 1);
  const nightMonth = count("rule-night-month", rule?.minNightPerMonth ?? 0);
  const nightWeek = count("rule-night-week", rule?.minNightPerWeek ?? 0);
  const priority = count("rule-priority", rule?.priority ?? 0, -100, 100);
  const save = h("button", { type: "submit" }, t("fr_save"));
  const back = h("button", { type: "button", class: "link" }, t("cancel"));
  back.addEventListener("click", cancel);
  const error = h("p", { class: "error", role: "alert", id: "rule-error" });
  const form = h("form", { class: "card rule-form", id: "rule-form", "data-rule-id": id, "aria-labelledby": "rule-form-title" },
    h("h3", { id: "rule-form-title" }, rule ? fill("fr_editTitle", { name: rule.name }) : t("fr_add")),
    h("div", { class: "form-grid" },
      labelled("rule-name", "fr_name", name), labelled("rule-scope", "fr_scope", scope), gradeField, areaField,
      labelled("rule-season-start", "fr_seasonStart", seasonStart), labelled("rule-season-end", "fr_seasonEnd", seasonEnd),
      labelled("rule-per-month", "col_quota", perMonth), labelled("rule-per-week", "pl_perWeek", perWeek),
      labelled("rule-night-month", "pl_nightMonth", nightMonth), labelled("rule-night-week", "pl_nightWeek", nightWeek),
      labelled("rule-priority", "fr_priority", priority)),
    h("p", { class: "muted" }, t("fr_hint")),
    h("div", { class: "buttons" }, save, back), error);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    error.textContent = "";
    const start = seasonStart.value.trim();
    const end = seasonEnd.value.trim();
    if ((start === "") !== (end === "")) {
      error.textContent = t("fr_seasonBoth");
      (start ? seasonEnd : seasonStart).focus();
      return;
    }
    save.disabled = true;
    api<Rule>("PUT", `/frequency-rules/${id}`, {
      name: name.value.trim(),
      areaId: scope.value === "area" ? area.value : null,
      grade: scope.value === "grade" ? Number(grade.value) : null,
      seasonStart: start || null,
      seasonEnd: end || null,
      minPerMonth: Number(perMonth.value),
      minPerWeek: Number(perWeek.value),
      minNightPerMonth: Number(nightMonth.value),
      minNightPerWeek: Number(nightWeek.value),
      priority: Number(priority.value),
    })
      .then((r) => saved(fill("fr_saved", { name: r.name })))
      .catch((err: unknown) => {
        save.disabled = false;
        error.textContent = problemText(err);
      });
  });
  return form;
}

function rulesSection(ctx: Ctx, changed: (notice: string) => void): HTMLElement {
  const formBox = h("div", { id: "rule-form-box" });
  const status = h("p", { class: "error", role: "alert", id: "rule-status" });
  const open = (rule: Rule | null): void => {
    const form = ruleForm(ctx, rule, changed, () => formBox.replaceChildren());
    formBox.replaceChildren(form);
    form.querySelector<HTMLInputElement>("#rule-name")?.focus();
  };
  const add = h("button", { type: "button", id: "rule-add" }, t("fr_add"));
  add.addEventListener("click", () => open(null));
  const row = (r: Rule): HTMLElement => {
    const edit = h("button", { type: "button", class: "link", "aria-label": `${t("fr_edit")}：${r.name}` }, t("fr_edit"));
    edit.addEventListener("click", () => open(r));
    const remove = h("button", { type: "button", class: "link danger", "aria-label": `${t("fr_delete")}：${r.name}` }, t("fr_delete"));
    remove.addEventListener("click", () => {
      if (!window.confirm(fill("fr_confirmDelete", { name: r.name }))) return;
      remove.disabled = true;
      status.textContent = "";
      api<unknown>("DELETE", `/frequency-rules/${r.id}`)
        .then(() => changed(fill("fr_deleted", { name: r.name })))
        .catch((err: unknown) => {
          remove.disabled = false;
          status.textContent = problemText(err);
        });
    });
    return h("tr", { "data-rule-id": r.id },
      h("td", { "data-col": "name" }, r.name),
      h("td", { "data-col": "scope" }, scopeText(r, ctx.areas)),
      h("td", { "data-col": "season", class: "nowrap" }, r.seasonStart ? `${r.seasonStart} ~ ${r.seasonEnd}` : t("fr_allYear")),
      h("td", { "data-col": "perMonth", class: "num" }, String(r.minPerMonth)),
      h("td", { "data-col": "perWeek", class: "num" }, String(r.minPerWeek)),
      h("td", { "data-col": "nightMonth", class: "num" }, String(r.minNightPerMonth)),
      h("td", { "data-col": "nightWeek", class: "num" }, String(r.minNightPerWeek)),
      h("td", { "data-col": "priority", class: "num" }, String(r.priority)),
      h("td", { class: "nowrap" }, edit, " ", remove));
  };
  return h("section", { class: "card rules", "aria-labelledby": "rules-title" },
    h("div", { class: "toolbar" }, h("h2", { id: "rules-title" }, t("fr_title")), add),
    h("p", { class: "muted" }, t("fr_explain")),
    ctx.rules.length === 0 ? h("p", { class: "muted", id: "rules-empty" }, t("fr_none")) : h("div", { class: "table-wrap" },
      h("table", { class: "grid", id: "rules-table" },
        h("thead", {}, h("tr", {}, ...(["fr_name", "fr_scope", "fr_season", "col_quota", "pl_perWeek", "pl_nightMonth", "pl_nightWeek", "fr_priority", "fr_actions"] as const)
          .map((w) => h("th", { scope: "col" }, t(w))))),
        h("tbody", {}, ...ctx.rules.map(row)))),
    status, formBox);
}

// -- the managers' page ------------------------------------------------------------------------
function plansTable(ctx: Ctx, pick: (areaId: string) => void): HTMLElement {
  if (ctx.plans.length === 0) return h("p", { class: "muted" }, t("noAreas"));
  const rows = ctx.plans.map((p) => {
    const go = h("button", { type: "button", class: "link", "aria-label": fill("pl_show", { area: `${p.areaCode} ${p.areaName}` }) }, p.areaCode);
    go.addEventListener("click", () => pick(p.areaId));
    const r = p.requirement;
    return h("tr", { "data-area-id": p.areaId, class: p.areaId === ctx.areaId ? "current" : undefined, "aria-current": p.areaId === ctx.areaId ? "true" : undefined },
      h("td", { "data-col": "code" }, go),
      h("td", { "data-col": "name" }, p.areaName),
      h("td", { "data-col": "grade", class: "num" }, String(p.grade)),
      h("td", { "data-col": "source" }, r.source === "plan" ? t("pl_src_plan") : r.source === "rule" ? t("pl_src_rule") : t("pl_src_default")),
      h("td", { "data-col": "quota", class: "num" }, String(r.minPerMonth)),
      h("td", { "data-col": "perWeek", class: "num" }, String(r.minPerWeek)),
      h("td", { "data-col": "night", class: "num" }, String(r.minNightPerMonth)),
      h("td", { "data-col": "targets", class: "num" }, String(p.targets.length)),
      h("td", { "data-col": "inspectors", class: "num" }, String(p.inspectorIds.length)));
  });
  return h("div", { class: "table-wrap" }, h("table", { class: "grid", id: "plans-table" },
    h("caption", {}, fill("pl_tableCaption", { month: ctx.month })),
    h("thead", {}, h("tr", {}, ...(["col_code", "col_name", "col_grade", "pl_source", "col_quota", "pl_perWeek", "pl_nightMonth", "pl_targets", "pl_inspectors"] as const)
      .map((w) => h("th", { scope: "col" }, t(w))))),
    h("tbody", {}, ...rows)));
}

function drawManager(ctx: Ctx, notice: string, reload: (notice: string) => void): void {
  const tableBox = h("div", { id: "plans-table-box" });
  const planBox = h("div", { class: "plan-side", id: "plan-box" });
  const calendarBox = h("div", { class: "plan-side", id: "plan-calendar-box" });
  const areaSelect = h("select", { id: "plan-area" }, ...ctx.plans.map((p) =>
    h("option", { value: p.areaId, selected: p.areaId === ctx.areaId }, `${p.areaCode} ${p.areaName}`)));
  const status = h("p", { class: "done", role: "status", id: "plans-status" }, notice);

  const showCalendar = (): void => {
    calendarBox.replaceChildren(loading());
    ctx.coverage
      .then((cov) => calendarBox.replaceChildren(calendarCard(ctx, cov)))
      .catch((err: unknown) => calendarBox.replaceChildren(failure(err, () => {
        ctx.coverage = api<Coverage>("GET", `/coverage?month=${ctx.month}`);
        showCalendar();
      })));
  };
  const showPlan = (): void => {
    const plan = ctx.plans.find((p) => p.areaId === ctx.areaId);
    if (!plan) {
      planBox.replaceChildren();
      return;
    }
    planBox.replaceChildren(planCard(plan, ctx.users, ctx.rules, () => {
      planBox.replaceChildren(loading());
      planForm(ctx, plan, (next) => {
        ctx.plans = ctx.plans.map((p) => (p.areaId === next.areaId ? next : p));
        ctx.coverage = api<Coverage>("GET", `/coverage?month=${ctx.month}`);
        status.textContent = fill("pl_saved", { area: `${next.areaCode} ${next.areaName}`, month: next.month });
        showAll();
        planBox.querySelector<HTMLElement>("#plan-edit")?.focus();
      }, () => {
        showPlan();
        planBox.querySelector<HTMLElement>("#plan-edit")?.focus();
      })
        .then((form) => {
          planBox.replaceChildren(form);
          form.querySelector<HTMLInputElement>("#plan-quota")?.focus();
        })
        .catch((err: unknown) => planBox.replaceChildren(failure(err, showPlan)));
    }));
  };
  const showAll = (): void => {
    tableBox.replaceChildren(plansTable(ctx, pick));
    showPlan();
    showCalendar();
  };
  function pick(areaId: string): void {
    ctx.areaId = areaId;
    areaSelect.value = areaId;
    showAll();
  }
  areaSelect.addEventListener("change", () => pick(areaSelect.value));

  ctx.main.replaceChildren(h("div", { class: "review-page plans-page" },
    h("div", { class: "toolbar" },
      h("h1", {}, t("plans")),
      ...monthPicker("plan-month", ctx.month, (m) => void managerPage(ctx.main, m, ctx.areaId)),
      h("label", { for: "plan-area" }, t("pl_area")), areaSelect),
    status, tableBox,
    h("div", { class: "plan-layout" }, planBox, calendarBox),
    rulesSection(ctx, reload)));
  showAll();
}

async function managerPage(main: HTMLElement, month: string, areaId: string, notice = ""): Promise<void> {
  main.replaceChildren(loading());
  const coverage = api<Coverage>("GET", `/coverage?month=${month}`);
  coverage.catch(() => undefined);  // shown (with a retry) by the calendar
  let areas: Area[], plans: Plan[], rules: Rule[], users: Map<string, User>;
  try {
    [areas, plans, rules, users] = await Promise.all([
      api<Area[]>("GET", "/areas"),
      api<Plan[]>("GET", `/plans?month=${month}`),
      api<Rule[]>("GET", "/frequency-rules"),
      userMap(),
    ]);
  } catch (err) {
    main.replaceChildren(failure(err, () => void managerPage(main, month, areaId)));
    return;
  }
  if (!main.isConnected) return;  // another page was opened meanwhile
  const chosen = plans.some((p) => p.areaId === areaId) ? areaId : plans[0]?.areaId ?? "";
  const ctx: Ctx = { main, month, areaId: chosen, areas, plans, rules, users, coverage };
  drawManager(ctx, notice, (next) => void managerPage(main, ctx.month, ctx.areaId, next));
}

// -- an inspector's page -----------------------------------------------------------------------
async function myPlansPage(main: HTMLElement, month: string): Promise<void> {
  main.replaceChildren(loading());
  let plans: Plan[], users: Map<string, User>, rules: Rule[];
  try {
    [plans, users, rules] = await Promise.all([
      api<Plan[]>("GET", `/plans/mine?month=${month}`),
      userMap(),
      api<Rule[]>("GET", "/frequency-rules").catch(() => [] as Rule[]),  // the rule's name only
    ]);
  } catch (err) {
    main.replaceChildren(failure(err, () => void myPlansPage(main, month)));
    return;
  }
  if (!main.isConnected) return;
  main.replaceChildren(h("div", { class: "review-page plans-page" },
    h("div", { class: "toolbar" }, h("h1", {}, t("pl_myPlans")), ...monthPicker("plan-month", month, (m) => void myPlansPage(main, m))),
    h("p", { class: "muted", id: "plan-read-only" }, t("pl_readOnly")),
    plans.length === 0
      ? h("p", { class: "muted", id: "plan-none" }, fill("pl_noneMine", { month }))
      : h("div", { class: "plan-cards" }, ...plans.map((p) => planCard(p, users, rules, null)))));
}

export async function plansPage(main: HTMLElement): Promise<void> {
  const month = today().slice(0, 7);
  if (MANAGERS.includes(savedMe()?.role ?? "")) await managerPage(main, month, "");
  else await myPlansPage(main, month);
}
