// Referrals to the police (移送管理): every referral with the step it waits for and that step's
// legal deadline counting down (ListReferrals, or ListOverdueReferralSteps for the overdue
// only); a panel per referral (GetReferral) with each step due/done/late and the steps the
// caller's role may record next; the case's signed package (ExportReferralPackage) checked in
// the browser against the published keys (packages.ts); the cases the screening suggests for a
// referral, which the squad and captains may flag (ListCases, FlagForReferral); and the findings
// flagged for a referral (ListFlags, ListCountyFindings).
import { ApiError, type Schemas, api, savedMe } from "./api";
import { h } from "./dom";
import { t, tr } from "./i18n";
import { FLAGGERS } from "./menu";
import { signedExport } from "./packages";
import {
  countdown, failure, loading, localMinute, pageLink, refusedRole, repaintCountdowns, span,
} from "./view";

type Referral = Schemas["Referral"];
type Overdue = Schemas["OverdueStep"];
type Step = Schemas["ReferralStepName"];
type Case = Schemas["Case"];
type MaterialKind = Schemas["MaterialKindName"];
type Flag = Schemas["Flag"];
type FindingPage = Schemas["FindingPage"];

const SQUAD_AND_MANAGERS = ["security_squad", "captain", "admin"];
const HEADS = ["captain", "admin"];

function role(): string {
  return savedMe()?.role ?? "";
}

function problemText(err: unknown): string {
  if (err instanceof ApiError) {
    const code = err.problem.code ? `（${err.problem.code}）` : "";
    return `${err.message}${code}`;
  }
  return err instanceof Error ? err.message : String(err);
}

// -- the list ------------------------------------------------------------------------------------
interface Row {
  id: string;
  caseNo: string;
  status: string;
  step: string | null;
  dueAt: string | null;
  overdue: boolean;
}

function listRow(r: Row, open: (id: string) => void): HTMLElement {
  const button = h("button", { type: "button", class: "open", "aria-label": `${t("rf_open")}：${r.caseNo}` }, t("rf_open"));
  button.addEventListener("click", () => open(r.id));
  return h("tr", { "data-referral-id": r.id, class: r.overdue ? "overdue" : undefined },
    h("td", { "data-col": "caseNo" }, r.caseNo),
    h("td", { "data-col": "status" }, tr(`rfs_${r.status}`)),
    h("td", { "data-col": "step" }, r.step ? tr(`rfstep_${r.step}`) : "—"),
    h("td", { "data-col": "dueAt", class: "nowrap" }, r.dueAt ? localMinute(r.dueAt) : "—"),
    h("td", { "data-col": "countdown" }, r.dueAt ? countdown(r.dueAt) : "—"),
    h("td", {}, button));
}

// -- the panel -----------------------------------------------------------------------------------
const STEP_TIMES: Array<[Step, keyof Referral, keyof Referral]> = [
  ["decision", "decisionDueAt", "decidedAt"],
  ["transfer", "transferDueAt", "transferredAt"],
  ["police_receipt", "receiptDueAt", "receiptAt"],
  ["police_decision", "policeDecisionDueAt", "policeDecidedAt"],
  ["reconsideration_request", "reconsiderationDueAt", "reconsiderationRequestedAt"],
  ["reconsideration_decision", "reconsiderationDecisionDueAt", "reconsiderationDecidedAt"],
  ["handover", "handoverDueAt", "handedOverAt"],
];

function stepsTable(r: Referral): HTMLElement {
  const rows = STEP_TIMES.filter(([, due]) => r[due]).map(([step, due, done]) => {
    const dueAt = r[due] as string;
    const doneAt = (r[done] as string | null | undefined) ?? null;
    const timed = r.steps?.find((s) => s.step === step);
    let state: HTMLElement;
    if (doneAt) {
      state = timed?.late
        ? h("span", { class: "late" }, `${t("rf_late")} ${span(timed.lateByS)}`)
        : h("span", {}, t("rf_onTime"));
    } else if (r.nextStep === step) {
      state = countdown(dueAt);
    } else {
      state = h("span", { class: "muted" }, "—");
    }
    return h("tr", { "data-step": step, class: r.nextStep === step ? "next" : undefined },
      h("td", {}, tr(`rfstep_${step}`)),
      h("td", { "data-col": "dueAt", class: "nowrap" }, localMinute(dueAt)),
      h("td", { "data-col": "doneAt", class: "nowrap" }, doneAt ? localMinute(doneAt) : "—"),
      h("td", { "data-col": "state" }, state));
  });
  return h("table", { class: "grid", id: "rf-steps" },
    h("thead", {}, h("tr", {}, ...(["rf_step", "rf_due", "rf_done", "rf_state"] as const).map((w) => h("th", { scope: "col" }, t(w))))),
    h("tbody", {}, ...rows));
}

function field(id: string, word: Parameters<typeof t>[0], input: HTMLElement): HTMLElement[] {
  return [h("label", { for: id }, t(word)), input];
}

/** The form of the step the referral waits for, when the caller's role may record it. */
function stepForm(r: Referral, done: (r: Referral) => void): HTMLElement | null {
  const step = r.nextStep;
  const who = role();
  if (!step || !SQUAD_AND_MANAGERS.includes(who)) return null;
  if (step === "decision" && !HEADS.includes(who)) {
    return h("p", { class: "muted", id: "rf-no-action" }, t("rf_headDecides"));
  }
  const error = h("p", { class: "error", id: "rf-action-error", role: "alert" });
  const form = h("form", { class: "rf-action", id: "rf-action", "data-step": step });
  const submit = (path: string, body: () => unknown): void => {
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const buttons = [...form.querySelectorAll("button")];
      buttons.forEach((b) => (b.disabled = true));
      error.textContent = "";
      const which = (e as SubmitEvent).submitter as HTMLButtonElement | null;
      form.dataset["choice"] = which?.value ?? "";
      api<Referral>("POST", `/referrals/${r.id}/${path}`, body())
        .then(done)
        .catch((err: unknown) => {
          buttons.forEach((b) => (b.disabled = false));
          error.textContent = `${t("rf_refused")}：${problemText(err)}`;
        });
    });
  };
  const text = (id: string, required = false): HTMLInputElement =>
    h("input", { id, name: id, required, autocomplete: "off" });
  const yesNo = (yes: Parameters<typeof t>[0], no: Parameters<typeof t>[0]): HTMLElement =>
    h("div", { class: "buttons" },
      h("button", { type: "submit", value: "yes" }, t(yes)),
      h("button", { type: "submit", value: "no" }, t(no)));
  const title = h("h3", {}, `${t("rf_record")}：${tr(`rfstep_${step}`)}`);
  if (step === "decision") {
    const note = text("rf-note");
    form.append(title, ...field("rf-note", "rf_note", note), yesNo("rf_approve", "rf_reject"), error);
    submit("decision", () => ({ approved: form.dataset["choice"] === "yes", note: note.value.trim() }));
  } else if (step === "transfer") {
    const unit = text("rf-police-unit", true);
    const kinds: MaterialKind[] = ["referral_letter", "investigation_report", "evidence_package"];
    const boxes = kinds.map((k) => h("input", { type: "checkbox", id: `rf-m-${k}`, value: k, checked: true }));
    form.append(title, ...field("rf-police-unit", "rf_policeUnit", unit),
      h("fieldset", {}, h("legend", {}, t("rf_materials")),
        ...boxes.map((b) => h("label", { for: b.id, class: "check" }, b, tr(`mk_${b.value}`)))),
      h("button", { type: "submit" }, t("rf_save")), error);
    submit("transfer", () => ({
      policeUnit: unit.value.trim(),
      materials: boxes.filter((b) => b.checked).map((b) => ({ kind: b.value, title: tr(`mk_${b.value}`) })),
    }));
  } else if (step === "police_receipt") {
    const no = text("rf-receipt-no");
    form.append(title, ...field("rf-receipt-no", "rf_receiptNo", no), h("button", { type: "submit" }, t("rf_save")), error);
    submit("police-receipt", () => ({ receiptNo: no.value.trim() }));
  } else if (step === "police_decision" || step === "reconsideration_decision") {
    const no = text("rf-decision-no");
    const reason = text("rf-reason");
    form.append(title, ...field("rf-decision-no", "rf_decisionNo", no), ...field("rf-reason", "rf_reason", reason),
      yesNo("rf_filed", "rf_notFiled"), error);
    submit("police-decision", () => ({
      filed: form.dataset["choice"] === "yes", decisionNo: no.value.trim(), reason: reason.value.trim(),
    }));
  } else if (step === "reconsideration_request") {
    const reason = text("rf-reason", true);
    form.append(title, ...field("rf-reason", "rf_reason", reason), h("button", { type: "submit" }, t("rf_save")), error);
    submit("reconsideration", () => ({ reason: reason.value.trim() }));
  } else if (step === "handover") {
    const item = text("rf-item", true);
    form.append(title, ...field("rf-item", "rf_item", item), h("button", { type: "submit" }, t("rf_save")), error);
    submit("handover", () => ({ items: [{ kind: "item", title: item.value.trim() }] }));
  }
  return form;
}

function packagePanel(r: Referral): HTMLElement {
  return signedExport({
    prefix: "rf", title: "rf_packageTitle", button: "rf_package",
    path: `/cases/${r.caseId}/package?referral_id=${r.id}`, method: "POST", fallback: `${r.caseNo}.zip`,
  });
}

function panel(r: Referral, into: HTMLElement, changed: () => void): void {
  const show = (next: Referral): void => {
    panel(next, into, changed);
    changed();
  };
  into.replaceChildren(h("section", { class: "rf-panel", "data-referral-id": r.id, "aria-labelledby": "rf-title" },
    h("h2", { id: "rf-title" }, `${r.caseNo} · ${tr(`rfs_${r.status}`)}`),
    r.policeUnit ? h("p", {}, `${t("rf_policeUnit")}：${r.policeUnit}`) : null,
    stepsTable(r),
    stepForm(r, show),
    packagePanel(r)));
}

// -- screening suggestions -----------------------------------------------------------------------
function suggestionsSection(): HTMLElement {
  const list = h("div", { id: "rf-suggestions" }, loading());
  const section = h("section", { class: "rf-suggestions", "aria-labelledby": "rf-sug-title" },
    h("h2", { id: "rf-sug-title" }, t("rf_suggested")), list);
  Promise.all([
    api<Case[]>("GET", "/cases?suggested=true&limit=100"),
    api<Case[]>("GET", "/cases?flagged=true&limit=100"),
  ])
    .then(([suggested, flagged]) => {
      const seen = new Set<string>();
      const cases = [...suggested, ...flagged].filter((c) => !seen.has(c.id) && seen.add(c.id) && c.referralIds.length === 0);
      if (cases.length === 0) {
        list.replaceChildren(h("p", { class: "muted" }, t("rf_noSuggestions")));
        return;
      }
      const mayFlag = FLAGGERS.includes(role());
      list.replaceChildren(h("table", { class: "grid" },
        h("thead", {}, h("tr", {}, ...(["rf_caseNo", "rf_cause", "rf_suggestion", "rf_flag"] as const).map((w) => h("th", { scope: "col" }, t(w))))),
        h("tbody", {}, ...cases.map((c) => suggestionRow(c, mayFlag)))));
    })
    .catch((err: unknown) => list.replaceChildren(h("p", { class: "error" }, problemText(err))));
  return section;
}

function suggestionRow(c: Case, mayFlag: boolean): HTMLElement {
  const cell = h("td", { "data-col": "flag" });
  const flaggedText = (): HTMLElement => h("span", { class: "muted" }, t("rf_flagged"));
  if (c.flagged) cell.append(flaggedText());
  else if (mayFlag) {
    const reason = h("input", { "aria-label": `${t("rf_flagReason")}：${c.caseNo}`, value: c.suggestions[0]?.message ?? "", required: true });
    const button = h("button", { type: "button", class: "flag" }, t("rf_flagIt"));
    const error = h("span", { class: "error", role: "alert" });
    button.addEventListener("click", () => {
      if (!reason.value.trim()) {
        error.textContent = t("rf_flagReason");
        return;
      }
      button.disabled = true;
      api("POST", "/referral-flags", { caseId: c.id, reason: reason.value.trim() })
        .then(() => cell.replaceChildren(flaggedText()))
        .catch((err: unknown) => {
          button.disabled = false;
          error.textContent = `${t("rf_refused")}：${problemText(err)}`;
        });
    });
    cell.append(reason, button, error);
  }
  return h("tr", { "data-case-id": c.id },
    h("td", {}, c.caseNo),
    h("td", {}, c.cause),
    h("td", {}, c.suggestions.map((s) => s.message).join("；") || "—"),
    cell);
}

// -- flagged findings ----------------------------------------------------------------------------
/** The findings flagged for a referral (ListFlags), with what the API shows of each
 * (ListCountyFindings, flagged); hidden for a role the API refuses the flags. */
function flaggedFindingsSection(): HTMLElement {
  const list = h("div", { id: "rf-flagged-findings" }, loading());
  const section = h("section", { class: "rf-suggestions", "aria-labelledby": "rf-ff-title" },
    h("h2", { id: "rf-ff-title" }, t("rf_flaggedFindings")), list);
  Promise.all([
    api<Flag[]>("GET", "/referral-flags?findings_only=true"),
    api<FindingPage>("GET", "/findings?flagged=true&limit=200"),
  ])
    .then(([flags, page]) => {
      const findings = new Map(page.items.map((f) => [f.id, f]));
      const rows = flags.filter((f) => f.findingId && findings.has(f.findingId));
      if (rows.length === 0) {
        list.replaceChildren(h("p", { class: "muted" }, t("rf_noFlaggedFindings")));
        return;
      }
      list.replaceChildren(h("table", { class: "grid" },
        h("thead", {}, h("tr", {}, ...(["fd_project", "fd_foundAt", "rf_suggestion", "rf_reasonCol", "rf_flaggedAt"] as const)
          .map((w) => h("th", { scope: "col" }, t(w))))),
        h("tbody", {}, ...rows.map((flag) => {
          const f = findings.get(flag.findingId!)!;
          return h("tr", { "data-finding-id": f.id },
            h("td", {}, h("a", { href: pageLink("findings", { finding: f.id }) }, f.projectName)),
            h("td", { class: "nowrap" }, localMinute(f.foundAt)),
            h("td", {}, (f.suggestions ?? []).map((s) => s.message).join("；") || "—"),
            h("td", { "data-col": "reason" }, flag.reason),
            h("td", { class: "nowrap" }, localMinute(flag.flaggedAt)));
        }))));
    })
    .catch((err: unknown) => {
      if (refusedRole(err)) section.hidden = true;
      else list.replaceChildren(h("p", { class: "error" }, problemText(err)));
    });
  return section;
}

// -- the page ------------------------------------------------------------------------------------
export async function referralsPage(main: HTMLElement, overdueOnly = false): Promise<void> {
  const only = h("input", { type: "checkbox", id: "rf-overdue-only", checked: overdueOnly });
  only.addEventListener("change", () => void referralsPage(main, only.checked));
  const list = h("div", { id: "rf-list", "aria-live": "polite" }, loading());
  const detail = h("div", { id: "rf-detail" });
  main.replaceChildren(h("div", { class: "review-page referrals-page" },
    h("div", { class: "toolbar" }, h("h1", {}, t("referrals")),
      h("label", { for: "rf-overdue-only", class: "check" }, only, t("rf_overdueOnly"))),
    list, detail, suggestionsSection(), flaggedFindingsSection()));
  repaintCountdowns(main);

  const load = async (): Promise<Row[]> => {
    if (overdueOnly) {
      const steps = await api<Overdue[]>("GET", "/referrals/overdue");
      return steps.map((o) => ({ id: o.referralId, caseNo: o.caseNo, status: o.status, step: o.step, dueAt: o.dueAt, overdue: true }));
    }
    const rows = await api<Referral[]>("GET", "/referrals?limit=200");
    return rows.map((r) => ({
      id: r.id, caseNo: r.caseNo, status: r.status, step: r.nextStep ?? null, dueAt: r.nextDueAt ?? null, overdue: r.overdue,
    }));
  };
  let rows: Row[];
  try {
    rows = await load();
  } catch (err) {
    list.replaceChildren(failure(err, () => void referralsPage(main, overdueOnly)));
    return;
  }
  const open = (id: string): void => {
    detail.replaceChildren(loading());
    api<Referral>("GET", `/referrals/${id}`)
      .then((r) => panel(r, detail, () => void refreshList()))
      .catch((err: unknown) => detail.replaceChildren(failure(err, () => open(id))));
  };
  const body = h("tbody");
  const draw = (items: Row[]): void => {
    body.replaceChildren(...items.map((r) => listRow(r, open)));
  };
  const refreshList = async (): Promise<void> => {
    try {
      draw(await load());
    } catch {
      // the panel shows the referral as recorded; the list catches up on the next visit
    }
  };
  draw(rows);
  list.replaceChildren(rows.length === 0
    ? h("p", { class: "muted", id: "rf-empty" }, overdueOnly ? t("rf_noneOverdue") : t("rf_none"))
    : h("table", { class: "grid", id: "rf-table" },
        h("thead", {}, h("tr", {},
          ...(["rf_caseNo", "rf_status", "rf_nextStep", "rf_due", "rf_countdown", "rf_panel"] as const).map((w) => h("th", { scope: "col" }, t(w))))),
        body));
}
