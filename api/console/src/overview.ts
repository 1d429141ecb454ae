// The overview (总览), the captains' and admins' landing page: one tile per review page, each
// asked for at once and shown as soon as its answer comes (its own loading and error state):
// this month's coverage (areas meeting their quota), who patrols now, open alerts by kind,
// overdue clues and petitions, the current satellite batch and the cases by stage.
import { type Schemas, api } from "./api";
import { num } from "./charts";
import { h } from "./dom";
import { type Word, fill, t, tr } from "./i18n";
import { quotaState } from "./quota";
import { failure, fixed, loading, today } from "./view";

type Coverage = Schemas["Coverage"];
type LiveStatus = Schemas["LiveStatus"];
type Alert = Schemas["Alert"];
type TipOff = Schemas["TipOffSummary"];
type PetitionPage = Schemas["PetitionPage"];
type Batch = Schemas["SatelliteBatch"];
type Figures = Schemas["SatelliteFigures"];
type Statistics = Schemas["Statistics"];

/** Largest page of the lists counted here; a full page reads "n+". */
const TIP_OFF_PAGE = 500;
const ALERT_PAGE = 1000;
const PETITION_PAGES = 20;

function figure(name: string, value: string, word: Word, extra?: string): HTMLElement {
  return h("p", { class: "figure" },
    h("strong", { "data-figure": name }, value), " ", h("span", {}, t(word)), extra ? h("span", { class: "muted" }, ` ${extra}`) : null);
}

/** A tile: its heading links to its page; its body is loaded by ``load``, with a retry. */
function tile(id: string, page: string, word: Word, load: () => Promise<Node[]>): HTMLElement {
  const body = h("div", { class: "tile-body", "aria-live": "polite" });
  const box = h("section", { class: "card tile", id: `tile-${id}`, "aria-labelledby": `tile-${id}-title`, "aria-busy": "true" },
    h("h2", { id: `tile-${id}-title` }, h("a", { href: `#/${page}` }, t(word), " ›")), body);
  const run = (): void => {
    body.replaceChildren(loading());
    box.setAttribute("aria-busy", "true");
    load()
      .then((nodes) => body.replaceChildren(...nodes))
      .catch((err: unknown) => body.replaceChildren(failure(err, run)))
      .finally(() => box.setAttribute("aria-busy", "false"));
  };
  run();
  return box;
}

async function coverage(): Promise<Node[]> {
  const cov = await api<Coverage>("GET", "/coverage");
  const states = cov.areas.map(quotaState);
  const withQuota = states.filter((s) => s !== "no_quota").length;
  const met = states.filter((s) => s === "met").length;
  return [
    h("p", { class: "figure" }, h("strong", { "data-figure": "met" }, String(met)), " / ",
      h("strong", { "data-figure": "withQuota" }, String(withQuota)), " ", t("areasMeetingQuota")),
    h("p", { class: "muted" }, `${cov.month} · ${t("col_patrols")} `, h("span", { "data-figure": "patrols" }, String(cov.patrols)),
      ` · ${t("col_km")} ${fixed(cov.distanceKm)} · ${t("noQuotaAreas")} ${cov.areas.length - withQuota}`),
  ];
}

async function live(): Promise<Node[]> {
  const s = await api<LiveStatus>("GET", "/live-status");
  return [
    figure("patrolling", String(s.patrolling), "st_patrolling"),
    h("p", { class: "muted" }, `${t("st_patrolled_today")} `, h("span", { "data-figure": "patrolledToday" }, String(s.patrolledToday)),
      ` · ${t("st_not_today")} `, h("span", { "data-figure": "notToday" }, String(s.notToday))),
  ];
}

async function alerts(): Promise<Node[]> {
  const found = await api<Alert[]>("GET", `/alerts?state=open&unacknowledged_only=true&limit=${ALERT_PAGE}`);
  const byKind = new Map<string, number>();
  for (const a of found) byKind.set(a.kind, (byKind.get(a.kind) ?? 0) + 1);
  const total = found.length >= ALERT_PAGE ? `${ALERT_PAGE}+` : String(found.length);
  if (!found.length) return [figure("alerts", "0", "openAlerts"), h("p", { class: "muted" }, t("noAlerts"))];
  return [
    figure("alerts", total, "openAlerts"),
    h("ul", { class: "by-kind", id: "overview-alert-kinds" }, ...[...byKind.entries()].sort((x, y) => y[1] - x[1]).map(([kind, n]) =>
      h("li", { "data-kind": kind }, `${tr(`ak_${kind}`)} `, h("strong", {}, String(n))))),
  ];
}

async function petitionsOverdue(): Promise<string> {
  let count = 0;
  for (let page = 1; page <= PETITION_PAGES; page++) {
    const found = await api<PetitionPage>("GET", `/petitions?overdue=true&page=${page}`);
    count += found.items.length;
    if (!found.hasMore) return String(count);
  }
  return `${count}+`;
}

async function overdue(): Promise<Node[]> {
  const [clues, petitions] = await Promise.all([
    api<TipOff[]>("GET", `/tip-offs?overdue=true&limit=${TIP_OFF_PAGE}`),
    petitionsOverdue(),
  ]);
  return [
    figure("tipOffs", clues.length >= TIP_OFF_PAGE ? `${TIP_OFF_PAGE}+` : String(clues.length), "overdueClues"),
    figure("petitions", petitions, "overduePetitions"),
  ];
}

async function satellite(): Promise<Node[]> {
  const batches = await api<Batch[]>("GET", "/satellite/batches");
  const batch = batches[0];
  if (!batch) return [h("p", { class: "muted" }, t("noBatches"))];
  const f = await api<Figures>("GET", `/satellite/batches/${batch.id}/figures`);
  const ratio = f.total.cultivatedRatio;
  const ratioText = ratio === null || ratio === undefined ? "—" : `${fixed(ratio * 100, 1)}%`;
  const threshold = `${fixed(f.ratioThreshold * 100, 1)}%`;
  return [
    h("p", { class: "muted", "data-batch-id": batch.id }, batch.name),
    h("p", { class: "figure" }, h("strong", { "data-figure": "verified" }, String(f.total.verified)), " / ",
      h("strong", { "data-figure": "polygons" }, String(f.total.polygons)), ` ${t("polygonsVerified")}`),
    h("p", { class: batch.overdue ? "late" : "muted" }, `${t("overdueCount")} `,
      h("strong", { "data-figure": "overdue" }, String(batch.overdue)), ` · ${t("verifyDue")} ${batch.verifyDueOn}`),
    h("p", { class: f.total.overThreshold ? "warning" : "muted", id: "overview-ratio" },
      f.total.overThreshold ? "⚠ " : "", `${t("fig_ratio")} `, h("span", { "data-figure": "ratio" }, ratioText),
      ` · ${t("ratioThreshold")} ${threshold}`, f.total.overThreshold ? `（${t("overThresholdShort")}）` : ""),
  ];
}

async function cases(): Promise<Node[]> {
  const q = new URLSearchParams({ period: "month", date: today(), section: "cases" });
  const stats = await api<Statistics>("GET", `/statistics?${q.toString()}`);
  const stages = stats.figures.filter((f) => f.key.startsWith("cases.stage.") && (f.value ?? 0) > 0);
  const total = stages.reduce((a, f) => a + (f.value ?? 0), 0);
  const opened = stats.figures.find((f) => f.key === "cases.opened")?.value ?? 0;
  return [
    figure("cases", num(total), "casesAll", fill("openedThisMonth", { n: num(opened) })),
    stages.length
      ? h("ul", { class: "by-kind", id: "overview-stages" }, ...stages.map((f) =>
        h("li", { "data-stage": f.key.split(".").pop()! }, `${f.label.replace(/^.*：/, "")} `, h("strong", {}, num(f.value)))))
      : h("p", { class: "muted" }, t("noCases")),
  ];
}

export async function overviewPage(main: HTMLElement): Promise<void> {
  main.replaceChildren(h("div", { class: "review-page overview-page" },
    h("div", { class: "toolbar" }, h("h1", {}, t("overview")), h("span", { class: "muted" }, today())),
    h("div", { class: "tiles" },
      tile("coverage", "coverage", "coverageThisMonth", coverage),
      tile("live", "live", "live", live),
      tile("alerts", "alerts", "alerts", alerts),
      tile("overdue", "tipoffs", "overdueTile", overdue),
      tile("satellite", "satellite", "satelliteTile", satellite),
      tile("cases", "cases", "casesTile", cases),
    ),
    h("p", {}, h("a", { href: "#/reports" }, `${t("reports")} ›`))));
  return Promise.resolve();
}
