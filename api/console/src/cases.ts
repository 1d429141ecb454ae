// 案件 (cases): the cases the API lets the caller see (ListCases — captains and admins every case,
// the squad the flagged, screened and referred ones, inspectors and joint members those they
// opened or are on the team of, the procuratorate the referred ones, read-only), by status,
// violation, flag and opening date; a case's panel (GetCase) with its status, parties, areas and
// team, the referral suggestions and flags; its penalty procedure (GetCaseProcedure: each
// deadline's due time counting down; ListCaseSteps: the steps taken); its documents
// (ListCaseDocuments, each downloadable); its evidence (ListEvidence); and the 案卷
// (ExportCaseFile) and the referral package (ExportReferralPackage), each checked in the browser
// (packages.ts). A part the API refuses the caller's role says so and the rest stays.
import { type Schemas, api, apiFile, savedMe } from "./api";
import { h, questions } from "./dom";
import { fileSize } from "./forms";
import { fill, t, tr } from "./i18n";
import { linkedEvidence } from "./evidence";
import { pagesFor } from "./menu";
import { signedExport } from "./packages";
import {
  countdown, facts, failure, fixed, loading, localMinute, localTime, pageLink, pageParam, problemText,
  refusedRole, repaintCountdowns, saveFile, span,
} from "./view";

type Case = Schemas["Case"];
type Procedure = Schemas["CaseProcedure"];
type Deadline = Schemas["Deadline"];
type Step = Schemas["CaseStep"];
type Document = Schemas["CaseDocument"];
type User = Schemas["User"];

const PAGE = 50;
const STATUSES: readonly Schemas["CaseStatusName"][] = [
  "clue", "filed", "investigating", "decided", "executing", "closed", "suspended", "terminated", "withdrawn", "referred"];
const KINDS: readonly Schemas["ViolationKindName"][] = [
  "land_occupation", "land_transfer", "illegal_mining", "destructive_mining", "illegal_construction", "other"];
const MARKS = ["flagged", "referred", "suggested"] as const;

interface Filter {
  status: string;
  kind: string;
  mark: string;
  since: string;  // yyyy-mm-dd
  offset: number;
}

interface Ctx {
  names: Map<string, string>;
  pages: Set<string>;
}

function who(ctx: Ctx, id: string | null | undefined): string {
  return id ? ctx.names.get(id) ?? id.slice(0, 8) : "—";
}

function statusText(c: Case): string {
  const from = c.referredFrom ?? c.suspendedFrom;
  return from ? `${tr(`cst_${c.status}`)}（${t("case_from")}${tr(`cst_${from}`)}）` : tr(`cst_${c.status}`);
}

/** A part of the panel that loads on its own: a role the API refuses it sees a note. */
function part(id: string, title: string, load: () => Promise<Node>): HTMLElement {
  const body = h("div", { id }, loading());
  const run = (): void => {
    load()
      .then((node) => body.replaceChildren(node))
      .catch((err: unknown) => body.replaceChildren(refusedRole(err)
        ? h("p", { class: "muted" }, t("notForRole"))
        : failure(err, run)));
  };
  run();
  return h("section", { class: "case-part", "aria-labelledby": `${id}-title` }, h("h3", { id: `${id}-title` }, title), body);
}

// -- the procedure -------------------------------------------------------------------------------
function deadlineState(d: Deadline): HTMLElement {
  if (d.doneAt) {
    if (d.late && d.dueAt) {
      return h("span", { class: "late" }, `${t("rf_late")} ${span((Date.parse(d.doneAt) - Date.parse(d.dueAt)) / 1000)}`);
    }
    return h("span", {}, t("rf_onTime"));
  }
  if (!d.dueAt) return h("span", { class: "muted" }, "—");
  if (d.kind === "waiting") return h("span", { class: "muted" }, `${t("dl_notBefore")} ${localMinute(d.dueAt)}`);
  return countdown(d.dueAt);
}

function procedureView(p: Procedure): HTMLElement {
  const rows = (p.deadlines ?? []).map((d) => h("tr", { "data-step": d.step, class: d.overdue ? "overdue" : undefined },
    h("td", {}, tr(`dl_${d.step}`)),
    h("td", {}, tr(`dlk_${d.kind}`)),
    h("td", { "data-col": "dueAt", class: "nowrap" }, d.dueAt ? localMinute(d.dueAt) : "—"),
    h("td", { "data-col": "doneAt", class: "nowrap" }, d.doneAt ? localMinute(d.doneAt) : "—"),
    h("td", { "data-col": "state" }, deadlineState(d)),
    h("td", { class: "muted" }, [
      d.basis,
      d.daysAllowed != null ? fill("dl_days", { allowed: d.daysAllowed, counted: fixed(d.daysCounted ?? 0, 1), paused: fixed(d.daysPaused ?? 0, 1) }) : "",
    ].filter(Boolean).join(" · "))));
  return h("div", {},
    facts("case-stage", [
      [t("case_stage"), tr(`stg_${p.stage}`)],
      [t("case_major"), p.major ? t("yes") : null],
      [t("case_decision"), p.decisionOption ? tr(`dopt_${p.decisionOption}`) : null],
      [t("case_paused"), p.pausedFor ? tr(`pr_${p.pausedFor}`) : null],
      [t("case_next"), p.nextSteps?.length ? p.nextSteps.map((s) => tr(`csk_${s}`)).join("、") : null],
    ]),
    rows.length
      ? h("table", { class: "grid", id: "case-deadlines" },
        h("thead", {}, h("tr", {}, ...(["case_deadline", "case_deadlineKind", "rf_due", "rf_done", "rf_state", "case_basis"] as const)
          .map((w) => h("th", { scope: "col" }, t(w))))),
        h("tbody", {}, ...rows))
      : h("p", { class: "muted" }, t("case_noDeadlines")));
}

function stepsView(ctx: Ctx, steps: Step[]): HTMLElement {
  if (steps.length === 0) return h("p", { class: "muted" }, t("case_noSteps"));
  return h("table", { class: "grid", id: "case-steps" },
    h("thead", {}, h("tr", {}, ...(["case_seq", "case_step", "case_stage", "case_at", "case_by"] as const)
      .map((w) => h("th", { scope: "col" }, t(w))))),
    h("tbody", {}, ...steps.map((s) => h("tr", { "data-kind": s.kind },
      h("td", { class: "num" }, String(s.seq)),
      h("td", {}, tr(`csk_${s.kind}`)),
      h("td", {}, tr(`stg_${s.stage}`)),
      h("td", { class: "nowrap" }, localTime(s.at)),
      h("td", {}, who(ctx, s.recordedBy))))));
}

function documentsView(caseId: string, docs: Document[]): HTMLElement {
  if (docs.length === 0) return h("p", { class: "muted", id: "case-no-documents" }, t("case_noDocuments"));
  const status = h("p", { id: "case-doc-status", role: "status" });
  return h("div", {},
    h("table", { class: "grid", id: "case-documents" },
      h("thead", {}, h("tr", {}, ...(["case_docTitle", "case_docNo", "case_generated", "case_docSize", "ev_sha256", "case_download"] as const)
        .map((w) => h("th", { scope: "col" }, t(w))))),
      h("tbody", {}, ...docs.map((d) => {
        const button = h("button", { type: "button", class: "doc-download", "aria-label": `${t("case_download")}：${d.title} ${d.docNo}` }, t("case_download"));
        button.addEventListener("click", () => {
          button.disabled = true;
          status.className = "";
          apiFile(`/cases/${caseId}/documents/${d.id}/file`, `${d.docNo || d.title}.pdf`)
            .then(({ blob, name }) => {
              saveFile(blob, name);
              status.textContent = `${t("pc_exported")}：${name}`;
            })
            .catch((err: unknown) => {
              status.className = "error";
              status.textContent = problemText(err);
            })
            .finally(() => (button.disabled = false));
        });
        return h("tr", { "data-document-id": d.id, "data-kind": d.kind },
          h("td", {}, d.title, d.scans?.length ? h("span", { class: "muted" }, ` · ${fill("case_scans", { n: d.scans.length })}`) : null),
          h("td", {}, d.docNo || "—"),
          h("td", { class: "nowrap" }, localMinute(d.generatedAt)),
          h("td", { class: "num" }, `${fileSize(d.sizeBytes)} · ${d.pages} ${t("case_pages")}`),
          h("td", {}, h("code", { title: d.sha256 }, `${d.sha256.slice(0, 12)}…`)),
          h("td", {}, button));
      }))),
    status);
}

// -- the panel -----------------------------------------------------------------------------------
function caseFacts(ctx: Ctx, c: Case): HTMLElement {
  const a = c.areas;
  const parties = c.parties.map((p) => [p.name, p.idNo].filter(Boolean).join(" ")).join("；");
  const team = (c.team ?? []).map((m) => `${m.displayName || who(ctx, m.userId)}（${tr(`trole_${m.roleInTeam}`)}）`).join("、");
  return facts("case-facts", [
    [t("case_cause"), c.cause],
    [t("case_kind"), tr(`tvk_${c.violationKind}`)],
    [t("status"), statusText(c)],
    [t("case_source"), tr(`srck_${c.sourceKind}`)],
    [t("case_actDate"), c.actDate ?? null],
    [t("case_place"), `${c.lon.toFixed(6)}, ${c.lat.toFixed(6)}`],
    [t("case_areas"), a.totalM2 > 0
      ? `${fixed(a.totalMu, 2)} ${t("mu")}（${t("case_cultivated")} ${fixed(a.cultivatedMu, 2)}，${t("case_basicFarmland")} ${fixed(a.basicFarmlandMu, 2)}）`
      : null],
    [t("case_parties"), parties || null],
    [t("case_team"), team || null],
    [t("case_openedBy"), who(ctx, c.openedBy)],
    [t("case_created"), localTime(c.createdAt)],
  ]);
}

function referralPart(ctx: Ctx, c: Case): HTMLElement {
  const items: Node[] = [];
  if (c.suggestions.length) {
    items.push(h("ul", { class: "fd-suggestions", id: "case-suggestions" }, ...c.suggestions.map((s) =>
      h("li", { "data-rule": s.ruleCode }, h("strong", {}, s.crime), ` · ${s.message}`))));
  }
  if (c.flags.length) {
    items.push(h("ul", { id: "case-flags" }, ...c.flags.map((f) =>
      h("li", {}, `${t("case_flaggedBy")} ${who(ctx, f.flaggedBy)} · ${localMinute(f.flaggedAt)}：${f.reason}`))));
  }
  if (c.referralIds.length) {
    items.push(h("p", { id: "case-referred" }, fill("case_referrals", { n: c.referralIds.length }), " ",
      ctx.pages.has("referrals") ? h("a", { href: "#/referrals" }, t("fd_toReferrals")) : ""));
  }
  if (items.length === 0) items.push(h("p", { class: "muted" }, t("case_noReferral")));
  return h("section", { class: "case-part", "aria-labelledby": "case-referral-title" },
    h("h3", { id: "case-referral-title" }, t("case_referral")), ...items);
}

async function showCase(ctx: Ctx, panel: HTMLElement, id: string): Promise<void> {
  panel.hidden = false;
  panel.replaceChildren(loading());
  let c: Case;
  try {
    c = await api<Case>("GET", `/cases/${id}`);
  } catch (err) {
    panel.replaceChildren(failure(err, () => void showCase(ctx, panel, id)));
    return;
  }
  const close = h("button", { type: "button", class: "close", "aria-label": t("close") }, "×");
  close.addEventListener("click", () => {
    panel.hidden = true;
    panel.replaceChildren();
  });
  const exports: HTMLElement[] = [signedExport({
    prefix: "case-file", title: "case_fileTitle", button: "case_fileExport",
    path: `/cases/${c.id}/case-file`, method: "GET", fallback: `${c.caseNo}-案卷.zip`,
  })];
  if (c.referralIds.length || c.flagged) {
    const referral = c.referralIds[c.referralIds.length - 1];
    exports.push(signedExport({
      prefix: "case-package", title: "rf_packageTitle", button: "rf_package",
      path: `/cases/${c.id}/package${referral ? `?referral_id=${referral}` : ""}`, method: "POST", fallback: `${c.caseNo}.zip`,
    }));
  }
  panel.replaceChildren(h("section", { class: "case-panel", "data-case-id": c.id, "aria-labelledby": "case-title" },
    h("header", {}, h("h2", { id: "case-title" }, `${c.caseNo} · ${statusText(c)}`), close),
    caseFacts(ctx, c),
    referralPart(ctx, c),
    part("case-procedure", t("case_procedure"), async () =>
      procedureView(await api<Procedure>("GET", `/cases/${c.id}/procedure`))),
    part("case-steps-box", t("case_steps"), async () =>
      stepsView(ctx, await api<Step[]>("GET", `/cases/${c.id}/steps`))),
    part("case-documents-box", t("case_documents"), async () =>
      documentsView(c.id, await api<Document[]>("GET", `/cases/${c.id}/documents`))),
    h("section", { class: "case-part", "aria-labelledby": "case-evidence-title" },
      h("h3", { id: "case-evidence-title" }, `${t("ev_evidence")}（${c.evidenceIds.length}）`),
      c.evidenceIds.length
        ? linkedEvidence({ case_id: c.id }, ctx.pages.has("evidence") ? pageLink("evidence", { case: c.id }) : null)
        : h("p", { class: "muted" }, t("ev_none"))),
    h("section", { class: "case-part case-exports", "aria-labelledby": "case-exports-title" },
      h("h3", { id: "case-exports-title" }, t("case_exports")), ...exports)));
  panel.scrollIntoView({ block: "start" });
}

// -- the page ------------------------------------------------------------------------------------
function listQuery(f: Filter): string {
  const q = new URLSearchParams({ limit: String(PAGE), offset: String(f.offset) });
  if (f.status) q.set("status", f.status);
  if (f.kind) q.set("violation_kind", f.kind);
  if (f.mark) q.set(f.mark, "true");
  if (f.since) q.set("opened_since", `${f.since}T00:00:00+08:00`);
  return q.toString();
}

export async function casesPage(main: HTMLElement): Promise<void> {
  const me = savedMe();
  const users = await api<User[]>("GET", "/admin/users").catch(() => [] as User[]);
  const ctx: Ctx = {
    names: new Map(users.map((u) => [u.id, u.displayName])),
    pages: new Set(pagesFor(me?.role ?? "").map((p) => p.id)),
  };
  const filter: Filter = { status: "", kind: "", mark: "", since: "", offset: 0 };
  const status = h("select", { id: "case-filter-status" }, h("option", { value: "" }, t("tipAllStatuses")),
    ...STATUSES.map((s) => h("option", { value: s }, tr(`cst_${s}`))));
  const kind = h("select", { id: "case-filter-kind" }, h("option", { value: "" }, t("case_allKinds")),
    ...KINDS.map((k) => h("option", { value: k }, tr(`tvk_${k}`))));
  const mark = h("select", { id: "case-filter-mark" }, h("option", { value: "" }, t("case_allMarks")),
    ...MARKS.map((m) => h("option", { value: m }, tr(`case_mark_${m}`))));
  const since = h("input", { type: "date", id: "case-filter-since" });
  const list = h("div", { id: "case-list", "aria-live": "polite" }, loading());
  const panel = h("div", { class: "card case-panel-box", id: "case-panel", hidden: true });
  const prev = h("button", { type: "button", id: "case-prev" }, t("case_prev"));
  const next = h("button", { type: "button", id: "case-next" }, t("case_next_page"));
  const pager = h("div", { class: "buttons pager" }, prev, next);
  const open = (id: string): void => {
    void showCase(ctx, panel, id);
    list.querySelectorAll("tr.current").forEach((r) => r.classList.remove("current"));
    list.querySelector(`tr[data-case-id="${id}"]`)?.classList.add("current");
  };
  const asked = questions();
  const load = async (): Promise<void> => {
    const current = asked.ask();
    list.replaceChildren(loading());
    let rows: Case[];
    try {
      rows = await api<Case[]>("GET", `/cases?${listQuery(filter)}`);
    } catch (err) {
      if (current()) list.replaceChildren(failure(err, () => void load()));
      return;
    }
    if (!current()) return;  // asked again meanwhile: the newer answer shows
    prev.disabled = filter.offset === 0;
    next.disabled = rows.length < PAGE;
    if (rows.length === 0) {
      list.replaceChildren(h("p", { class: "muted", id: "case-empty" }, t("case_none")));
      return;
    }
    list.replaceChildren(h("div", { class: "table-wrap" }, h("table", { class: "grid", id: "case-table" },
      h("thead", {}, h("tr", {}, ...(["rf_caseNo", "case_cause", "case_kind", "status", "case_created", "case_marks", "case_open"] as const)
        .map((w) => h("th", { scope: "col" }, t(w))))),
      h("tbody", {}, ...rows.map((c) => {
        const button = h("button", { type: "button", class: "open", "aria-label": `${t("case_open")}：${c.caseNo}` }, t("case_open"));
        button.addEventListener("click", () => open(c.id));
        const marks = [
          c.suggestions.length ? t("case_mark_suggested") : "",
          c.flagged ? t("case_mark_flagged") : "",
          c.referralIds.length ? t("case_mark_referred") : "",
        ].filter(Boolean).join("、");
        return h("tr", { "data-case-id": c.id },
          h("td", { "data-col": "caseNo", class: "nowrap" }, c.caseNo),
          h("td", {}, c.cause),
          h("td", {}, tr(`tvk_${c.violationKind}`)),
          h("td", { "data-col": "status" }, statusText(c)),
          h("td", { class: "nowrap" }, localMinute(c.createdAt)),
          h("td", {}, marks || "—"),
          h("td", {}, button));
      })))));
  };
  const refilter = (): void => {
    filter.status = status.value;
    filter.kind = kind.value;
    filter.mark = mark.value;
    filter.since = since.value;
    filter.offset = 0;
    void load();
  };
  for (const control of [status, kind, mark, since]) control.addEventListener("change", refilter);
  prev.addEventListener("click", () => {
    filter.offset = Math.max(0, filter.offset - PAGE);
    void load();
  });
  next.addEventListener("click", () => {
    filter.offset += PAGE;
    void load();
  });
  main.replaceChildren(h("div", { class: "review-page cases-page" },
    h("div", { class: "toolbar" }, h("h1", {}, t("cases")),
      h("label", { for: "case-filter-status" }, t("status")), status,
      h("label", { for: "case-filter-kind" }, t("case_kind")), kind,
      h("label", { for: "case-filter-mark" }, t("case_marks")), mark,
      h("label", { for: "case-filter-since" }, t("case_since")), since),
    me?.role === "procuratorate" ? h("p", { class: "muted" }, t("case_readOnly")) : null,
    list, pager, panel));
  repaintCountdowns(main);
  await load();
  const wanted = pageParam("case");
  if (wanted) open(wanted);
}
