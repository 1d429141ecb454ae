// County settings (县级设置, the admin's): the work calendar that deadlines count working days
// on (ListHolidays, PutHoliday, DeleteHoliday), the referral thresholds in force in the
// province (ListReferralRules) and a new one (AddReferralRule), and, read-only, the deadlines
// and thresholds the server applies to the county (GetCountySettings).
import { type Schemas, api } from "./api";
import { h } from "./dom";
import { type Word, fill, lang, t, tr } from "./i18n";
import { confirmInPlace, field, fileSize, onSubmit, options, statusLine, table } from "./forms";
import { failure, loading, today } from "./view";

type Day = Schemas["CalendarDay"];
type Rule = Schemas["Rule"];
type CountySettings = Schemas["CountySettings"];

const DAY_KINDS = ["holiday", "workday"] as const;
const VIOLATIONS = ["land_occupation", "land_transfer", "illegal_mining", "destructive_mining", "illegal_construction", "other"] as const;
// the metrics a rule may name (evidence.cases.screening.METRICS) with their unit
export const METRICS: Record<string, "mu" | "yuan" | "count"> = {
  basic_farmland_mu: "mu", other_cultivated_mu: "mu", cultivated_mu: "mu", other_land_mu: "mu", total_mu: "mu",
  forest_public_welfare_mu: "mu", forest_commercial_mu: "mu", grassland_mu: "mu",
  ore_value_yuan: "yuan", destroyed_value_yuan: "yuan", illegal_gain_yuan: "yuan", prior_penalties: "count",
};
const PENALTY_KINDS = ["land_occupation", "grassland", "illegal_mining", "other"] as const;
const LEVELS = ["threshold", "especially_serious"] as const;

function weekday(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  return d.toLocaleDateString(lang() === "en" ? "en" : "zh-CN", { weekday: "short", timeZone: "UTC" });
}

// -- the work calendar ---------------------------------------------------------------------------
async function calendar(section: HTMLElement): Promise<void> {
  const year = h("input", { id: "st-year", type: "number", min: "2000", max: "2100", value: today().slice(0, 4) });
  const list = h("div", { id: "st-days" }, loading());
  const notice = statusLine("st-days-status");
  const load = async (): Promise<void> => {
    const y = year.value;
    let days: Day[];
    try {
      days = await api<Day[]>("GET", `/work-calendar?from=${y}-01-01&to=${y}-12-31`);
    } catch (err) {
      list.replaceChildren(failure(err, () => void load()));
      return;
    }
    list.replaceChildren(days.length
      ? table("st-day-table", ["cs_day", "cs_weekday", "cs_dayKind", "cs_dayName", "us_actions"], days.map((d) => {
        const remove = h("button", { type: "button", class: "danger", "aria-label": `${t("cs_delete")}：${d.day}` }, t("cs_delete"));
        confirmInPlace(remove, fill("cs_deleteQuestion", { day: d.day }), t("cs_deleteConfirm"), async () => {
          await api("DELETE", `/work-calendar/${d.day}`);
          notice.className = "form-status ok";
          notice.textContent = fill("cs_deleted", { day: d.day });
          await load();
        });
        return h("tr", { "data-day": d.day, "data-kind": d.kind },
          h("td", { class: "nowrap" }, d.day), h("td", {}, weekday(d.day)),
          h("td", {}, tr(`dk_${d.kind}`)), h("td", {}, d.name || "—"), h("td", {}, remove));
      }), fill("cs_dayCount", { y, n: days.length }))
      : h("p", { class: "muted", id: "st-no-days" }, fill("cs_noDays", { y })));
  };
  year.addEventListener("change", () => void load());

  const day = h("input", { id: "st-new-day", type: "date", required: true });
  const kind = h("select", { id: "st-new-kind" }, ...options(DAY_KINDS, "dk_"));
  const name = h("input", { id: "st-new-name", maxlength: "100", placeholder: t("cs_dayNameExample") });
  const status = statusLine("st-day-status");
  const form = h("form", { id: "st-day-form", class: "adm-form inline" },
    h("h3", {}, t("cs_addDay")),
    field("st-new-day", "cs_day", day), field("st-new-kind", "cs_dayKind", kind, t("cs_dayKindHint")),
    field("st-new-name", "cs_dayName", name),
    h("div", { class: "buttons" }, h("button", { type: "submit" }, t("cs_save"))), status);
  onSubmit(form, status, "cs_saveFailed", async () => {
    const saved = await api<Day>("POST", "/work-calendar", { day: day.value, kind: kind.value, name: name.value.trim() });
    year.value = saved.day.slice(0, 4);
    form.reset();
    await load();
    return fill("cs_daySaved", { day: saved.day, kind: tr(`dk_${saved.kind}`) });
  });
  section.replaceChildren(
    h("h2", { id: "st-calendar-title" }, t("cs_calendar")),
    h("p", { class: "hint" }, t("cs_calendarAbout")),
    h("div", { class: "toolbar" }, h("label", { for: "st-year" }, t("cs_year")), year),
    notice, list, form);
  await load();
}

// -- referral rules ------------------------------------------------------------------------------
function ruleRow(r: Rule): HTMLElement {
  const unit = tr(`unit_${r.unit}`);
  return h("tr", { "data-rule-id": r.id, "data-code": r.code },
    h("td", { "data-col": "code" }, r.code),
    h("td", { "data-col": "violation" }, tr(`tvk_${r.violationKind}`)),
    h("td", { "data-col": "crime" }, r.crime, r.article ? h("span", { class: "muted" }, ` ${r.article}`) : null),
    h("td", { "data-col": "metric" }, tr(`mt_${r.metric}`)),
    h("td", { "data-col": "threshold", class: "num" }, `${r.threshold} ${unit}`),
    h("td", { "data-col": "level" }, tr(`lv_${r.level}`)),
    h("td", { "data-col": "effective", class: "nowrap" }, `${r.effectiveFrom} ~ ${r.effectiveTo ?? t("cs_open")}`),
    h("td", { "data-col": "citation", class: "citation" }, r.citation));
}

async function rules(section: HTMLElement): Promise<void> {
  // a scrolled box: the keyboard can reach and scroll it
  const list = h("div", { id: "st-rules", class: "st-rules", tabindex: "0", role: "region", "aria-labelledby": "st-rules-title" }, loading());
  const load = async (): Promise<void> => {
    try {
      const rows = await api<Rule[]>("GET", "/referral-rules");
      list.replaceChildren(rows.length
        ? table("st-rule-table", ["cs_ruleCode", "cs_violation", "cs_crime", "cs_metric", "cs_threshold", "cs_level", "cs_effective", "cs_citation"],
          rows.map(ruleRow), fill("cs_ruleCount", { n: rows.length }))
        : h("p", { class: "muted" }, t("cs_noRules")));
    } catch (err) {
      list.replaceChildren(failure(err, () => void load()));
    }
  };
  const code = h("input", { id: "st-rule-code", required: true, maxlength: "60" });
  const violation = h("select", { id: "st-rule-violation" }, ...options(VIOLATIONS, "tvk_"));
  const crime = h("input", { id: "st-rule-crime", required: true, maxlength: "100" });
  const article = h("input", { id: "st-rule-article", maxlength: "60" });
  const metric = h("select", { id: "st-rule-metric" }, ...options(Object.keys(METRICS), "mt_"));
  const threshold = h("input", { id: "st-rule-threshold", type: "number", min: "0", step: "0.01", required: true });
  const unit = h("span", { id: "st-rule-unit", class: "muted" });
  const level = h("select", { id: "st-rule-level" }, ...options(LEVELS, "lv_"));
  const from = h("input", { id: "st-rule-from", type: "date", required: true, value: today() });
  const to = h("input", { id: "st-rule-to", type: "date" });
  const citation = h("textarea", { id: "st-rule-citation", required: true, rows: "2", maxlength: "2000" });
  const description = h("textarea", { id: "st-rule-description", rows: "2", maxlength: "4000" });
  const penaltyKind = h("select", { id: "st-rule-penalty-kind" }, ...options(PENALTY_KINDS, "pen_"));
  const years = h("input", { id: "st-rule-years", type: "number", min: "1", max: "100", value: "2" });
  const prior = h("fieldset", { class: "prior" }, h("legend", {}, t("cs_priorPenalties")),
    field("st-rule-penalty-kind", "cs_penaltyKind", penaltyKind), field("st-rule-years", "cs_withinYears", years));
  const sync = (): void => {
    unit.textContent = tr(`unit_${METRICS[metric.value] ?? "mu"}`);
    prior.hidden = metric.value !== "prior_penalties";
    prior.disabled = prior.hidden;
  };
  metric.addEventListener("change", sync);
  sync();
  const status = statusLine("st-rule-status");
  const form = h("form", { id: "st-rule-form", class: "adm-form" },
    h("h3", {}, t("cs_addRule")),
    h("div", { class: "adm-grid" },
      field("st-rule-code", "cs_ruleCode", code), field("st-rule-violation", "cs_violation", violation),
      field("st-rule-crime", "cs_crime", crime), field("st-rule-article", "cs_article", article),
      field("st-rule-metric", "cs_metric", metric),
      h("div", { class: "adm-field" }, h("label", { for: "st-rule-threshold" }, t("cs_threshold")),
        h("span", { class: "with-unit" }, threshold, unit)),
      field("st-rule-level", "cs_level", level), field("st-rule-from", "cs_from", from), field("st-rule-to", "cs_to", to)),
    prior,
    field("st-rule-citation", "cs_citation", citation), field("st-rule-description", "cs_description", description),
    h("div", { class: "buttons" }, h("button", { type: "submit" }, t("cs_addRuleButton"))), status);
  onSubmit(form, status, "cs_ruleFailed", async () => {
    const m = metric.value;
    const rule = await api<Rule>("POST", "/referral-rules", {
      code: code.value.trim(), violationKind: violation.value, crime: crime.value.trim(), article: article.value.trim(),
      metric: m, threshold: threshold.value, unit: METRICS[m], level: level.value,
      effectiveFrom: from.value, effectiveTo: to.value || undefined,
      citation: citation.value.trim(), description: description.value.trim(),
      ruleCondition: m === "prior_penalties" ? { penaltyKind: penaltyKind.value, withinYears: Number(years.value) } : undefined,
    });
    form.reset();
    from.value = today();
    sync();
    await load();
    return fill("cs_ruleAdded", { code: rule.code, from: rule.effectiveFrom });
  });
  section.replaceChildren(
    h("h2", { id: "st-rules-title" }, t("cs_rules")),
    h("p", { class: "hint" }, t("cs_rulesAbout")),
    list, form);
  await load();
}

// -- the settings in force -----------------------------------------------------------------------
function group(title: Word, rows: Array<[Word, string]>, id: string): HTMLElement {
  return h("div", { class: "st-group", id },
    h("h3", {}, t(title)),
    h("dl", { class: "tip-dl" }, ...rows.flatMap(([word, value]) => [h("dt", {}, t(word)), h("dd", { "data-setting": word }, value)])));
}

async function inForce(section: HTMLElement): Promise<void> {
  section.replaceChildren(h("h2", { id: "st-force-title" }, t("cs_inForce")), loading());
  let s: CountySettings;
  try {
    s = await api<CountySettings>("GET", "/county-settings");
  } catch (err) {
    section.replaceChildren(h("h2", { id: "st-force-title" }, t("cs_inForce")), failure(err, () => void inForce(section)));
    return;
  }
  const days = (n: number): string => fill("cs_workingDays", { n });
  const yuan = (v: string): string => fill("cs_yuan", { v: Number(v).toLocaleString(lang() === "en" ? "en" : "zh-CN") });
  const dayOf = (n: number): string => fill("cs_dayOfMonth", { n });
  section.replaceChildren(
    h("h2", { id: "st-force-title" }, t("cs_inForce")),
    h("p", { class: "hint" }, fill("cs_inForceAbout", { county: s.countyName, province: s.provinceCode })),
    h("div", { class: "st-groups" },
      group("cs_tipOffs", [
        ["cs_decide", days(s.tipOffs.decideWorkingDays)],
        ["cs_verify", days(s.tipOffs.verifyWorkingDays)],
        ["cs_feedback", days(s.tipOffs.feedbackWorkingDays)],
        ["cs_duplicateRadius", fill("cs_metres", { n: s.tipOffs.duplicateRadiusM })],
      ], "st-tip-offs"),
      group("cs_procedure", [
        ["cs_filing", days(s.procedure.filingWorkingDays)],
        ["cs_majorFine", yuan(s.procedure.majorFineYuan)],
        ["cs_hearingPerson", yuan(s.procedure.hearingFinePersonYuan)],
        ["cs_hearingOrganisation", yuan(s.procedure.hearingFineOrganisationYuan)],
      ], "st-procedure"),
      group("cs_satellite", [
        ["cs_quarterReport", fill("cs_days", { n: s.satellite.quarterReportDays })],
        ["cs_review", fill("cs_days", { n: s.satellite.reviewDays })],
        ["cs_ratio", `${(s.satellite.ratioThreshold * 100).toLocaleString(undefined, { maximumFractionDigits: 2 })}%`],
      ], "st-satellite"),
      group("cs_reports", [
        ["cs_monthly", dayOf(s.reports.monthlyDueDay)],
        ["cs_quarterly", dayOf(s.reports.quarterlyDueDay)],
        ["cs_annual", dayOf(s.reports.annualDueDay)],
        ["cs_jointMeeting", s.reports.jointMeetingMembers.join("、")],
      ], "st-reports"),
      group("cs_layerImports", [
        ["cs_background", fileSize(s.layerImports.backgroundJobBytes)],
        ["cs_maxUpload", fileSize(s.layerImports.maxUploadBytes)],
      ], "st-layer-imports")));
}

export async function settingsPage(main: HTMLElement): Promise<void> {
  const cal = h("section", { class: "card", id: "st-calendar", "aria-labelledby": "st-calendar-title" });
  const rul = h("section", { class: "card", id: "st-rules-section", "aria-labelledby": "st-rules-title" });
  const force = h("section", { class: "card", id: "st-in-force", "aria-labelledby": "st-force-title" });
  main.replaceChildren(h("div", { class: "review-page admin-page settings-page" },
    h("div", { class: "toolbar" }, h("h1", {}, t("settings"))), cal, force, rul));
  await Promise.all([calendar(cal), rules(rul), inForce(force)]);
}
