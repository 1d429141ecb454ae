// The clue desk (线索受理): a call registered while the caller is on the line (OpenTipOff, with
// the receipt number to read back and the clue it repeats), the queue (ListTipOffs) with each
// clue's next due step and a countdown, and a clue's panel (GetTipOff) with its steps and the
// actions its state allows: decide, send for verification, handle, open a case, record the
// feedback; the reporter's identity only on request (GetTipOffReporter, a recorded read).
import { type Schemas, api } from "./api";
import { h, questions } from "./dom";
import { fill, t, tr } from "./i18n";
import { failure, fromLocalInput, loading, localInput, localMinute, localTime, onLeave } from "./view";

type TipOff = Schemas["TipOff"];
type Summary = Schemas["TipOffSummary"];
type Step = Schemas["TipOffStep"];
type Reporter = Schemas["TipOffReporter"];
interface Township {
  id: string;
  name: string;
}

export const CHANNELS = [
  "phone_12336", "letter", "email", "leadership", "lower_level", "media", "transfer_12345", "wechat", "other",
] as const;
export const CLUE_TYPES = [
  "land_illegal_approval", "land_illegal_occupation", "land_illegal_transfer", "land_farmland_destruction",
  "land_other", "mineral_illegal_exploration", "mineral_illegal_mining", "mineral_illegal_right_approval",
  "mineral_illegal_right_transfer", "mineral_other",
] as const;
export const STATUSES = [
  "received", "accepted", "refused", "transferred", "verifying", "verified", "handled", "closed",
] as const;
const REFUSALS = ["review_litigation_arbitration", "official_discipline", "ownership_compensation", "state_secrets"] as const;
const FEEDBACK_CHANNELS = ["phone", "sms", "letter", "email", "wechat", "in_person", "other"] as const;
const VIOLATIONS = ["land_occupation", "land_transfer", "illegal_mining", "destructive_mining", "illegal_construction", "other"] as const;

interface Filter {
  status: string;
  overdueOnly: boolean;
}

let townships: Map<string, string> = new Map();

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function options(values: readonly string[], prefix: string, selected = ""): HTMLOptionElement[] {
  return values.map((v) => h("option", { value: v, selected: v === selected }, tr(`${prefix}${v}`)));
}

/** The first step not yet done (the one the desk is waiting for). */
function nextStep(steps: Step[]): Step | undefined {
  return steps.find((s) => !s.doneAt);
}

/** ``还剩 2天3小时`` or ``已逾期 5小时``. */
function countdown(due: string, now = Date.now()): { text: string; overdue: boolean } {
  const ms = new Date(due).getTime() - now;
  const mins = Math.floor(Math.abs(ms) / 60000);
  const d = Math.floor(mins / 1440);
  const hr = Math.floor((mins % 1440) / 60);
  const mi = mins % 60;
  const span = d > 0 ? fill("spanDays", { d, h: hr }) : hr > 0 ? fill("spanHours", { h: hr, m: mi }) : fill("spanMinutes", { m: mi });
  return ms < 0 ? { text: fill("overdueBy", { span }), overdue: true } : { text: fill("dueIn", { span }), overdue: false };
}

function dueCell(s: Summary | TipOff): HTMLElement {
  const step = nextStep(s.steps);
  if (!step?.dueAt) return h("td", { "data-col": "due", class: "muted" }, "—");
  const c = countdown(step.dueAt);
  const late = c.overdue || step.overdue;
  return h("td", { "data-col": "due", class: late ? "nowrap tip-overdue" : "nowrap", "data-due": step.dueAt },
    `${tr(`tstep_${step.step}`)} ${localMinute(step.dueAt)}`, h("br"),
    h("span", { class: "countdown" }, late ? `⚠ ${c.text}` : c.text));
}

// -- the intake form -----------------------------------------------------------------------------
function intakeForm(opened: (tip: TipOff) => void): HTMLElement {
  const field = (id: string, word: Parameters<typeof t>[0], control: HTMLElement): HTMLElement =>
    h("div", { class: "tip-field" }, h("label", { for: id }, t(word)), control);
  const channel = h("select", { id: "tip-channel", name: "channel" }, ...options(CHANNELS, "tc_", "phone_12336"));
  const received = h("input", { id: "tip-received", type: "datetime-local", required: true, value: localInput(new Date()) });
  const place = h("input", { id: "tip-location", maxlength: "1000" });
  const lon = h("input", { id: "tip-lon", type: "number", step: "any", min: "-180", max: "180" });
  const lat = h("input", { id: "tip-lat", type: "number", step: "any", min: "-90", max: "90" });
  const crs = h("select", { id: "tip-crs" },
    h("option", { value: "wgs84" }, t("wgs84")), h("option", { value: "gcj02" }, t("gcj02")));
  const township = h("select", { id: "tip-township" }, h("option", { value: "" }, t("tipTownshipAuto")),
    ...[...townships].map(([id, name]) => h("option", { value: id }, name)));
  const party = h("input", { id: "tip-party", maxlength: "500" });
  const facts = h("textarea", { id: "tip-facts", required: true, rows: "3", maxlength: "8000" });
  const clueType = h("select", { id: "tip-type", required: true },
    h("option", { value: "" }, t("tipChoose")), ...options(CLUE_TYPES, "ct_"));
  const anonymous = h("input", { id: "tip-anonymous", type: "checkbox" });
  const name = h("input", { id: "tip-rep-name", maxlength: "100" });
  const phone = h("input", { id: "tip-rep-phone", maxlength: "40", type: "tel" });
  const idNo = h("input", { id: "tip-rep-id", maxlength: "40" });
  const address = h("input", { id: "tip-rep-address", maxlength: "1000" });
  const reporter = h("fieldset", { class: "tip-reporter" }, h("legend", {}, t("tipReporter")),
    field("tip-rep-name", "tipRepName", name), field("tip-rep-phone", "tipRepPhone", phone),
    field("tip-rep-id", "tipRepId", idNo), field("tip-rep-address", "tipRepAddress", address));
  anonymous.addEventListener("change", () => {
    reporter.disabled = anonymous.checked;
    reporter.hidden = anonymous.checked;
  });
  const submit = h("button", { type: "submit" }, t("tipRegister"));
  const status = h("div", { id: "tip-receipt", role: "status", "aria-live": "polite" });
  const form = h("form", { id: "tip-form", class: "tip-form", "aria-labelledby": "tip-form-title" },
    h("h2", { id: "tip-form-title" }, t("tipIntake")),
    h("div", { class: "tip-grid" },
      field("tip-channel", "tipChannel", channel), field("tip-received", "tipReceived", received),
      field("tip-type", "tipClueType", clueType), field("tip-township", "tipTownship", township),
      field("tip-location", "tipLocation", place), field("tip-party", "tipParty", party),
      field("tip-lon", "tipLon", lon), field("tip-lat", "tipLat", lat), field("tip-crs", "tipCrs", crs)),
    field("tip-facts", "tipFacts", facts),
    h("label", { for: "tip-anonymous", class: "check" }, anonymous, t("tipAnonymous")),
    reporter, submit, status);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    status.replaceChildren();
    if ((lon.value === "") !== (lat.value === "")) {
      status.replaceChildren(h("p", { class: "error", role: "alert" }, t("tipLonLatBoth")));
      return;
    }
    const body: Record<string, unknown> = {
      channel: channel.value,
      receivedAt: fromLocalInput(received.value),
      facts: facts.value.trim(),
      clueType: clueType.value,
      locationText: place.value.trim(),
      reportedParty: party.value.trim(),
      crs: crs.value,
    };
    if (lon.value !== "") {
      body["lon"] = Number(lon.value);
      body["lat"] = Number(lat.value);
    }
    if (township.value) body["townshipId"] = township.value;
    if (!anonymous.checked) {
      body["reporter"] = { name: name.value.trim(), phone: phone.value.trim(), idNo: idNo.value.trim(), address: address.value.trim() };
    }
    submit.disabled = true;
    api<TipOff>("POST", "/tip-offs", body)
      .then((tip) => {
        submit.disabled = false;
        const parts: HTMLElement[] = [
          h("p", { class: "receipt" }, t("tipReceiptNo"), "：", h("strong", { id: "tip-receipt-no" }, tip.receiptNo)),
          h("p", { class: "muted" }, t("tipReadReceipt")),
        ];
        if (tip.duplicateOf) {
          const link = h("a", { href: "#/tipoffs", id: "tip-duplicate", "data-tip-id": tip.duplicateOf }, t("tipSeeOriginal"));
          link.addEventListener("click", (ev) => {
            ev.preventDefault();
            opened({ ...tip, id: tip.duplicateOf! });
          });
          parts.push(h("p", { class: "warning", role: "alert" }, t("tipDuplicate"), " ", link));
        }
        status.replaceChildren(...parts);
        form.reset();
        received.value = localInput(new Date());
        reporter.hidden = false;
        reporter.disabled = false;
        opened(tip);
      })
      .catch((err: unknown) => {
        submit.disabled = false;
        status.replaceChildren(h("p", { class: "error", role: "alert" }, `${t("tipRegisterFailed")}：${message(err)}`));
      });
  });
  return form;
}

// -- a clue's panel ------------------------------------------------------------------------------
function stepsTable(tip: TipOff): HTMLElement {
  return h("table", { class: "grid", id: "tip-steps" },
    h("thead", {}, h("tr", {}, ...(["tipStep", "tipDue", "tipDone", "status"] as const).map((w) => h("th", { scope: "col" }, t(w))))),
    h("tbody", {}, ...tip.steps.map((s) => {
      const state = s.doneAt ? (s.late ? t("tipLate") : t("tipOnTime")) : s.overdue ? `⚠ ${t("tipOverdue")}` : t("tipPending");
      return h("tr", { "data-step": s.step, class: s.overdue || s.late ? "tip-overdue" : undefined },
        h("td", {}, tr(`tstep_${s.step}`)),
        h("td", { class: "nowrap" }, s.dueAt ? localMinute(s.dueAt) : "—"),
        h("td", { class: "nowrap" }, s.doneAt ? localMinute(s.doneAt) : "—"),
        h("td", {}, state));
    })));
}

function actionForm(id: string, title: string, controls: HTMLElement[], send: () => Promise<TipOff>, done: (tip: TipOff) => void): HTMLElement {
  const button = h("button", { type: "submit" }, title);
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "tip-action", id }, h("h3", {}, title), ...controls, button, error);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    button.disabled = true;
    error.textContent = "";
    send().then(done).catch((err: unknown) => {
      button.disabled = false;
      error.textContent = `${t("tipActionFailed")}：${message(err)}`;
    });
  });
  return form;
}

function labelled(id: string, word: Parameters<typeof t>[0], control: HTMLElement): HTMLElement {
  return h("div", { class: "tip-field" }, h("label", { for: id }, t(word)), control);
}

function actions(tip: TipOff, done: (tip: TipOff) => void): HTMLElement[] {
  const path = `/tip-offs/${tip.id}`;
  const out: HTMLElement[] = [];
  if (tip.status === "received") {
    const decision = h("select", { id: "tip-decision" }, ...options(["accept", "refuse", "transfer"], "td_"));
    const reason = h("select", { id: "tip-refusal" }, ...options(REFUSALS, "rr_"));
    const to = h("input", { id: "tip-transfer-to", maxlength: "200" });
    const note = h("input", { id: "tip-decision-note", maxlength: "4000" });
    const reasonField = labelled("tip-refusal", "tipRefusalReason", reason);
    const toField = labelled("tip-transfer-to", "tipTransferTo", to);
    const sync = (): void => {
      reasonField.hidden = decision.value !== "refuse";
      toField.hidden = decision.value !== "transfer";
      to.required = decision.value === "transfer";
    };
    decision.addEventListener("change", sync);
    sync();
    out.push(actionForm("tip-decide", t("tipDecide"),
      [labelled("tip-decision", "tipDecision", decision), reasonField, toField, labelled("tip-decision-note", "tipNote", note)],
      () => api<TipOff>("POST", `${path}/decision`, {
        decision: decision.value,
        refusalReason: decision.value === "refuse" ? reason.value : undefined,
        transferTo: decision.value === "transfer" ? to.value.trim() : undefined,
        note: note.value.trim(),
      }), done));
  }
  if (tip.status === "accepted") {
    const area = h("input", { id: "tip-area", placeholder: t("tipAreaAuto") });
    out.push(actionForm("tip-assign", t("tipAssign"), [labelled("tip-area", "tipAreaId", area)],
      () => api<TipOff>("POST", `${path}/verification`, area.value.trim() ? { areaId: area.value.trim() } : {}), done));
  }
  if (tip.status === "verified") {
    const handling = h("select", { id: "tip-handling" }, ...options(["stop_order", "no_violation"], "hd_"));
    const note = h("input", { id: "tip-handling-note", maxlength: "4000" });
    out.push(actionForm("tip-handle", t("tipHandle"),
      [labelled("tip-handling", "tipHandling", handling), labelled("tip-handling-note", "tipNote", note)],
      () => api<TipOff>("POST", `${path}/handling`, { handling: handling.value, note: note.value.trim() }), done));
    const kind = h("select", { id: "tip-violation" }, ...options(VIOLATIONS, "tvk_"));
    const cause = h("input", { id: "tip-cause", maxlength: "2000" });
    out.push(actionForm("tip-case", t("tipOpenCase"),
      [labelled("tip-violation", "tipViolation", kind), labelled("tip-cause", "tipCause", cause)],
      () => api<TipOff>("POST", `${path}/case`, { violationKind: kind.value, cause: cause.value.trim() || undefined }), done));
  }
  if (["refused", "transferred", "handled"].includes(tip.status)) {
    const channel = h("select", { id: "tip-fb-channel" }, ...options(FEEDBACK_CHANNELS, "fc_"));
    const content = h("textarea", { id: "tip-fb-content", rows: "2", required: true, maxlength: "4000" });
    out.push(actionForm("tip-feedback", t("tipFeedback"),
      [labelled("tip-fb-channel", "tipFeedbackChannel", channel), labelled("tip-fb-content", "tipFeedbackContent", content)],
      () => api<TipOff>("POST", `${path}/feedback`, { channel: channel.value, content: content.value.trim() }), done));
  }
  return out;
}

function reporterBox(tip: TipOff): HTMLElement {
  const box = h("div", { id: "tip-reporter-box" });
  if (tip.anonymous) {
    box.append(h("p", { class: "muted" }, t("tipAnonymousClue")));
    return box;
  }
  const button = h("button", { type: "button", id: "tip-show-reporter" }, t("tipShowReporter"));
  const note = h("p", { class: "muted" }, t("tipReadRecorded"));
  button.addEventListener("click", () => {
    button.disabled = true;
    api<Reporter>("GET", `/tip-offs/${tip.id}/reporter`)
      .then((r) => box.replaceChildren(h("dl", { class: "tip-dl", id: "tip-reporter" },
        h("dt", {}, t("tipRepName")), h("dd", {}, r.name || "—"),
        h("dt", {}, t("tipRepPhone")), h("dd", {}, r.phone || "—"),
        h("dt", {}, t("tipRepId")), h("dd", {}, r.idNo || "—"),
        h("dt", {}, t("tipRepAddress")), h("dd", {}, r.address || "—")),
      h("p", { class: "muted" }, t("tipReadWasRecorded"))))
      .catch((err: unknown) => {
        button.disabled = false;
        box.append(h("p", { class: "error", role: "alert" }, message(err)));
      });
  });
  box.append(button, note);
  return box;
}

async function showPanel(panel: HTMLElement, id: string, changed: () => void): Promise<void> {
  panel.hidden = false;
  panel.replaceChildren(loading());
  let tip: TipOff;
  try {
    tip = await api<TipOff>("GET", `/tip-offs/${id}`);
  } catch (err) {
    panel.replaceChildren(failure(err, () => void showPanel(panel, id, changed)));
    return;
  }
  const close = h("button", { type: "button", class: "close", "aria-label": t("close") }, "×");
  close.addEventListener("click", () => {
    panel.hidden = true;
  });
  const done = (next: TipOff): void => {
    changed();
    void showPanel(panel, next.id, changed);
  };
  const row = (word: Parameters<typeof t>[0], value: string | null | undefined): HTMLElement[] =>
    value ? [h("dt", {}, t(word)), h("dd", {}, value)] : [];
  panel.replaceChildren(
    h("header", {}, h("h2", { id: "tip-panel-title" }, `${t("tipReceiptNo")} ${tip.receiptNo}`), close),
    h("dl", { class: "tip-dl" },
      ...row("status", tr(`ts_${tip.status}`)),
      ...row("tipChannel", tr(`tc_${tip.channel}`)),
      ...row("tipReceived", localMinute(tip.receivedAt)),
      ...row("tipClueType", tr(`ct_${tip.clueType}`)),
      ...row("tipTownship", tip.townshipId ? townships.get(tip.townshipId) ?? "" : ""),
      ...row("tipLocation", tip.locationText),
      ...row("tipParty", tip.reportedParty),
      ...row("tipFacts", tip.facts),
      ...row("tipDecision", tip.decision ? tr(`td_${tip.decision}`) : ""),
      ...row("tipRefusalReason", tip.refusalReason ? tr(`rr_${tip.refusalReason}`) : ""),
      ...row("tipTransferTo", tip.transferTo),
      ...row("tipHandling", tip.handling ? tr(`hd_${tip.handling}`) : ""),
      ...row("tipFeedback", tip.fedBackAt ? `${localMinute(tip.fedBackAt)} ${tr(`fc_${tip.feedbackChannel ?? ""}`)}：${tip.feedbackContent}` : "")),
    h("h3", {}, t("tipSteps")), stepsTable(tip),
    ...actions(tip, done),
    h("h3", {}, t("tipReporter")), reporterBox(tip));
}

// -- the page ------------------------------------------------------------------------------------
function queueRow(s: Summary, open: (id: string) => void): HTMLElement {
  const link = h("a", { href: `#/tipoffs`, "data-tip-id": s.id }, s.receiptNo);
  link.addEventListener("click", (e) => {
    e.preventDefault();
    open(s.id);
  });
  return h("tr", { "data-tip-id": s.id, "data-receipt": s.receiptNo, class: s.overdue ? "tip-overdue-row" : undefined },
    h("td", { "data-col": "receipt" }, link, s.duplicateOf ? h("span", { class: "muted" }, ` (${t("tipDup")})`) : null),
    h("td", { "data-col": "received", class: "nowrap" }, localMinute(s.receivedAt)),
    h("td", { "data-col": "channel" }, tr(`tc_${s.channel}`)),
    h("td", { "data-col": "type" }, tr(`ct_${s.clueType}`)),
    h("td", { "data-col": "township" }, s.townshipId ? townships.get(s.townshipId) ?? "" : "—"),
    h("td", { "data-col": "status", class: "nowrap" }, tr(`ts_${s.status}`)),
    dueCell(s));
}

export async function tipoffsPage(main: HTMLElement): Promise<void> {
  try {
    const list = await api<Township[]>("GET", "/townships");
    townships = new Map(list.map((tw) => [tw.id, tw.name]));
  } catch {
    townships = new Map();  // the names are a convenience; the queue works without them
  }
  const filter: Filter = { status: "", overdueOnly: false };
  const statusSelect = h("select", { id: "tip-filter-status" },
    h("option", { value: "" }, t("tipAllStatuses")), ...options(STATUSES, "ts_"));
  const overdue = h("input", { type: "checkbox", id: "tip-filter-overdue" });
  const queue = h("div", { id: "tip-queue", "aria-live": "polite" }, loading());
  const panel = h("aside", { class: "tip-panel", id: "tip-panel", "aria-labelledby": "tip-panel-title", hidden: true });
  const refreshed = h("span", { class: "muted", id: "tip-refreshed" });
  const open = (id: string): void => void showPanel(panel, id, () => void load());
  const asked = questions();
  const load = async (): Promise<void> => {
    const current = asked.ask();
    const query = new URLSearchParams({ limit: "200" });
    if (filter.status) query.set("status", filter.status);
    if (filter.overdueOnly) query.set("overdue", "true");
    let rows: Summary[];
    try {
      rows = await api<Summary[]>("GET", `/tip-offs?${query.toString()}`);
    } catch (err) {
      if (current()) queue.replaceChildren(failure(err, () => void load()));
      return;
    }
    if (!current()) return;  // asked again meanwhile (a filter, the minute's refresh): the newer answer shows
    refreshed.textContent = `${t("tipRefreshedAt")} ${localTime(new Date()).slice(11)}`;
    if (rows.length === 0) {
      queue.replaceChildren(h("p", { class: "muted", id: "tip-empty" }, t("tipNone")));
      return;
    }
    queue.replaceChildren(h("table", { class: "grid", id: "tip-table" },
      h("thead", {}, h("tr", {}, ...(["tipReceiptNo", "tipReceived", "tipChannel", "tipClueType", "tipTownship", "status", "tipNextDue"] as const)
        .map((w) => h("th", { scope: "col" }, t(w))))),
      h("tbody", {}, ...rows.map((s) => queueRow(s, open)))));
  };
  statusSelect.addEventListener("change", () => {
    filter.status = statusSelect.value;
    void load();
  });
  overdue.addEventListener("change", () => {
    filter.overdueOnly = overdue.checked;
    void load();
  });
  main.replaceChildren(h("div", { class: "review-page tipoffs-page" },
    h("div", { class: "toolbar" }, h("h1", {}, t("tipoffs"))),
    h("div", { class: "tip-layout" },
      intakeForm((tip) => {
        void load();
        open(tip.id);
      }),
      h("div", { class: "tip-side" },
        h("section", { class: "tip-queue", "aria-labelledby": "tip-queue-title" },
          h("div", { class: "toolbar" }, h("h2", { id: "tip-queue-title" }, t("tipQueue")),
            h("label", { for: "tip-filter-status" }, t("status")), statusSelect,
            h("label", { for: "tip-filter-overdue", class: "check" }, overdue, t("tipOverdueOnly")), refreshed),
          queue),
        panel))));
  // the countdowns move: the queue is asked again every minute while the page is shown
  const timer = window.setInterval(() => void load(), 60_000);
  onLeave(() => window.clearInterval(timer));
  await load();
}
