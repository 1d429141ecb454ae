// The evidence library (证据库) for captains, admins and the security squad: the evidence the API
// lets the caller see (ListEvidence), filtered by patrol, case, capture date and trust flags, as
// thumbnails (GetDerivativeUrl: a short-lived URL of the store, the page's policy allows its
// images); an evidence's panel (GetEvidence) with what the file says of itself (time, place,
// device, SHA-256), its trust flags and location check, its custody chain (GetCustody), and the
// original's download (GetOriginalUrl), which the API records in that chain — the list shows the
// new entry at once. The thumbnails and the panel serve the findings and cases pages too.
import { type Schemas, api, savedMe } from "./api";
import { h } from "./dom";
import { fileSize } from "./forms";
import { fill, t, tr } from "./i18n";
import {
  dayRange, facts, failure, fixed, loading, localMinute, localTime, locationHits, onLeave, pageLink, pageParam,
  problemText, refusedRole,
} from "./view";

type Evidence = Schemas["Evidence"];
type EvidencePage = Schemas["EvidencePage"];
type Url = Schemas["PresignedUrl"];
type Custody = Schemas["CustodyHistory"];
type Entry = Schemas["CustodyEntry"];
type User = Schemas["User"];
type Case = Schemas["Case"];
type Patrol = Schemas["Patrol"];

const PAGE = 24;

// the names of the people the caller may see (ListUsers), for uploaders and custody actors;
// asked once per page shown (another page or another login asks again)
let people: Promise<Map<string, string>> | null = null;

function names(): Promise<Map<string, string>> {
  if (!people) {
    people = api<User[]>("GET", "/admin/users")
      .then((users) => new Map(users.map((u) => [u.id, u.displayName])))
      .catch(() => new Map<string, string>());  // a role without the directory: ids stay short
    onLeave(() => { people = null; });
  }
  return people;
}

function who(map: Map<string, string>, id: string | null | undefined): string {
  return id ? map.get(id) ?? id.slice(0, 8) : "—";
}

/** A trust flag's meaning (``tf_<flag>``), or the flag itself for one the console does not know. */
export function flagLabel(flag: string): string {
  return tr(`tf_${flag}`) === `tf_${flag}` ? flag : tr(`tf_${flag}`);
}

// -- thumbnails ----------------------------------------------------------------------------------
/** The evidence's thumbnail (GetDerivativeUrl) once the worker has made it. */
function picture(e: Evidence, kind: "thumbnail" | "poster" = "thumbnail"): HTMLElement {
  const alt = e.caption || e.fileName || e.id;
  const made = e.derivatives.some((d) => d.kind === kind);
  if (!made) {
    const poster = e.kind === "video" && kind === "thumbnail" && e.derivatives.some((d) => d.kind === "poster");
    if (poster) return picture(e, "poster");
    return h("span", { class: "ev-nothumb" }, e.kind === "video" ? t("ev_video") : t("ev_noThumb"));
  }
  const img = h("img", { alt, class: "ev-img", "data-kind": kind });
  api<Url>("GET", `/evidence/${e.id}/derivatives/${kind}`)
    .then((url) => { img.src = url.url; })
    .catch(() => img.replaceWith(h("span", { class: "ev-nothumb" }, t("ev_noThumb"))));
  return img;
}

/** One evidence as a tile: its thumbnail, capture time and flags; a button that opens it. */
export function tile(e: Evidence, open: (e: Evidence) => void): HTMLElement {
  const button = h("button", {
    type: "button", class: "ev-open", "aria-label": `${t("ev_open")}：${e.caption || e.fileName}（${localMinute(e.capturedAt)}）`,
  }, picture(e));
  button.addEventListener("click", () => open(e));
  return h("li", { class: e.flags.length ? "ev-tile ev-flagged" : "ev-tile", "data-evidence-id": e.id },
    button,
    h("p", { class: "ev-when" }, localMinute(e.capturedAt)),
    e.caption ? h("p", { class: "ev-caption" }, e.caption) : null,
    e.flags.length
      ? h("p", { class: "ev-flags", "data-flags": e.flags.join(" ") }, `⚠ ${e.flags.map(flagLabel).join("；")}`)
      : null);
}

/** Thumbnails of ``items``; the first ``open`` opens the evidence's panel. */
export function gallery(items: Evidence[], open: (e: Evidence) => void): HTMLElement {
  return h("ul", { class: "ev-gallery" }, ...items.map((e) => tile(e, open)));
}

/** The evidence of a record (a finding, a case, a patrol) as thumbnails with a panel below, and
 * a link to the library filtered on it; a role the API refuses the list sees a note. */
export function linkedEvidence(query: Record<string, string>, libraryLink: string | null): HTMLElement {
  const box = h("div", { class: "ev-linked" }, loading());
  const panel = h("div", { class: "ev-linked-panel" });
  const params = new URLSearchParams({ ...query, limit: "60" });
  api<EvidencePage>("GET", `/evidence?${params.toString()}`)
    .then((page) => {
      if (page.items.length === 0) {
        box.replaceChildren(h("p", { class: "muted" }, t("ev_none")));
        return;
      }
      box.replaceChildren(
        gallery(page.items, (e) => void showEvidence(panel, e.id)),
        page.nextCursor ? h("p", { class: "muted" }, t("ev_more")) : "",
        libraryLink ? h("p", {}, h("a", { href: libraryLink }, t("ev_inLibrary"))) : "",
        panel);
    })
    .catch((err: unknown) => box.replaceChildren(
      refusedRole(err) ? h("p", { class: "muted" }, t("notForRole")) : h("p", { class: "error" }, problemText(err))));
  return box;
}

// -- an evidence's panel ---------------------------------------------------------------------------
function custodyDetail(entry: Entry): string {
  const d = entry.entryDetails;
  const parts: string[] = [];
  if (d.sha256) parts.push(`SHA-256 ${d.sha256.slice(0, 12)}…`);
  if (d.flags?.length) parts.push(d.flags.map(flagLabel).join("；"));
  if (d.flag) parts.push(flagLabel(d.flag));
  if (d.kind) parts.push(tr(`dk_${d.kind}`));
  if (d.caseNo) parts.push(d.caseNo);
  if (d.path) parts.push(d.path);
  if (d.note) parts.push(d.note);
  if (d.role) parts.push(tr(`role_${d.role}`));
  return parts.join(" · ");
}

function custodyTable(history: Custody, people: Map<string, string>): HTMLElement {
  return h("table", { class: "grid", id: "ev-custody" },
    h("caption", {}, t("ev_custodyNote")),
    h("thead", {}, h("tr", {}, ...(["ev_seq", "ev_action", "ev_actor", "ev_at", "ev_detail", "ev_entryHash"] as const)
      .map((w) => h("th", { scope: "col" }, t(w))))),
    h("tbody", {}, ...history.entries.map((x) =>
      h("tr", { "data-action": x.action, "data-seq": String(x.seq) },
        h("td", { class: "num" }, String(x.seq)),
        h("td", { "data-col": "action" }, tr(`ca_${x.action}`)),
        h("td", {}, who(people, x.actorId)),
        h("td", { class: "nowrap" }, localTime(x.at)),
        h("td", {}, custodyDetail(x)),
        h("td", {}, h("code", { title: x.entryHash }, `${x.entryHash.slice(0, 12)}…`))))));
}

function trustSection(e: Evidence): HTMLElement {
  const info = e.trustInfo;
  const numbers: Array<[string, string | null]> = [
    [t("tn_exifVsDevice"), info.exifVsDeviceDistanceM != null ? `${fixed(info.exifVsDeviceDistanceM)} ${t("metres")}` : null],
    [t("tn_clockSkew"), info.clockSkewS != null ? `${fixed(info.clockSkewS)} s` : null],
    [t("tn_receiptLag"), info.receiptLagS != null ? `${fixed(info.receiptLagS / 60)} min` : null],
    [t("tn_deviceFixGap"), info.deviceFixGapS != null ? `${fixed(info.deviceFixGapS)} s` : null],
    [t("tn_trackDistance"), info.trackDistanceM != null ? `${fixed(info.trackDistanceM)} ${t("metres")}` : null],
    [t("tn_inPatrolArea"), info.inPatrolArea != null ? (info.inPatrolArea ? t("yes") : t("no")) : null],
  ];
  return h("section", { "aria-labelledby": "ev-trust-title" },
    h("h3", { id: "ev-trust-title" }, t("ev_trust")),
    e.flags.length
      ? h("ul", { id: "ev-trust-flags", class: "ev-trust-flags" }, ...e.flags.map((f) =>
        h("li", { "data-flag": f }, `⚠ ${flagLabel(f)}`, h("span", { class: "muted" }, ` (${f})`))))
      : h("p", { id: "ev-trust-flags", class: "ev-trust-ok" }, t("ev_noFlags")),
    facts("ev-trust-numbers", numbers));
}

/** Where the capture time came from: the file's own tags, the phone's claim, the receipt. */
function timeSource(source: string): string {
  if (source === "device") return t("src_device");
  if (source === "server") return t("src_server");
  return `${t("src_file")} ${source.startsWith("file") ? "" : source}`.trim();
}

/** ``url`` fetched by the browser as a navigation: the store answers it as an attachment. */
function download(url: string): void {
  const link = h("a", { href: url, hidden: true, rel: "noreferrer" });
  document.body.append(link);
  link.click();
  link.remove();
}

/** The panel of one evidence, into ``into``. */
export async function showEvidence(into: HTMLElement, id: string): Promise<void> {
  into.replaceChildren(loading());
  let e: Evidence, history: Custody, map: Map<string, string>;
  try {
    [e, history, map] = await Promise.all([
      api<Evidence>("GET", `/evidence/${id}`),
      api<Custody>("GET", `/evidence/${id}/custody`),
      names(),
    ]);
  } catch (err) {
    into.replaceChildren(failure(err, () => void showEvidence(into, id)));
    return;
  }
  const meta = e.fileMetadata;
  const device = [meta.make, meta.model].filter(Boolean).join(" ");
  const custody = h("div", { id: "ev-custody-box" }, custodyTable(history, map));
  const status = h("p", { id: "ev-download-status", role: "status" });
  const original = h("button", { type: "button", id: "ev-download" }, t("ev_download"));
  original.addEventListener("click", () => {
    original.disabled = true;
    status.className = "";
    status.textContent = t("ev_downloading");
    api<Url>("POST", `/evidence/${e.id}/original-url`, { inline: false })
      .then(async (url) => {
        download(url.url);
        status.textContent = fill("ev_downloaded", { name: e.fileName || e.id });
        custody.replaceChildren(custodyTable(await api<Custody>("GET", `/evidence/${e.id}/custody`), map));
      })
      .catch((err: unknown) => {
        status.className = "error";
        status.textContent = problemText(err);
      })
      .finally(() => (original.disabled = false));
  });
  const close = h("button", { type: "button", class: "close", "aria-label": t("close") }, "×");
  close.addEventListener("click", () => into.replaceChildren());
  const links: HTMLElement[] = [];
  if (e.patrolId) links.push(h("a", { href: pageLink("evidence", { patrol: e.patrolId }) }, t("ev_samePatrol")));
  if (e.caseId) links.push(h("a", { href: pageLink("cases", { case: e.caseId }) }, t("ev_openCase")));
  into.replaceChildren(h("section", { class: "card ev-panel", "data-evidence-id": e.id, "aria-labelledby": "ev-title" },
    h("header", {}, h("h2", { id: "ev-title" }, e.caption || e.fileName || t("ev_evidence")), close),
    h("div", { class: "ev-panel-body" },
      h("div", { class: "ev-preview" }, picture(e)),
      facts("ev-facts", [
        [t("ev_capturedAt"), `${localTime(e.capturedAt)}（${timeSource(e.capturedAtSource)}）`],
        [t("ev_receivedAt"), localTime(e.receivedAt)],
        [t("ev_place"), `${e.lon.toFixed(6)}, ${e.lat.toFixed(6)} ±${fixed(e.positionAccuracyM)} ${t("metres")}（${tr(`ps_${e.positionSource}`)}）`],
        [t("ev_heading"), e.headingDeg != null ? `${fixed(e.headingDeg, 0)}°` : null],
        [t("ev_device"), device || null],
        [t("ev_sha256"), h("code", { id: "ev-sha256" }, e.sha256)],
        [t("ev_file"), `${e.fileName || "—"} · ${e.mediaType} · ${fileSize(e.sizeBytes)}${meta.width ? ` · ${meta.width}×${meta.height}` : ""}`],
        [t("ev_uploader"), who(map, e.uploaderId)],
        [t("ev_proves"), e.proves || null],
        [t("ev_viewType"), e.viewType ? tr(`view_${e.viewType}`) : null],
      ])),
    links.length ? h("p", { class: "ev-links" }, ...links.flatMap((l, i) => (i ? [" · ", l] : [l]))) : null,
    trustSection(e),
    h("section", { "aria-labelledby": "ev-check-title" },
      h("h3", { id: "ev-check-title" }, t("ev_locationCheck")),
      e.locationCheck.outsideCounty ? h("p", { class: "warning" }, t("tf_outside_county")) : null,
      locationHits(e.locationCheck.features)),
    h("section", { "aria-labelledby": "ev-custody-title" },
      h("h3", { id: "ev-custody-title" }, t("ev_custody")),
      h("div", { class: "downloads" }, original, status),
      custody)));
}

// -- the page ------------------------------------------------------------------------------------
interface Filter {
  patrol: string;
  case: string;
  from: string;  // yyyy-mm-dd, the county's days
  to: string;
  flagged: boolean;
}

function query(f: Filter, cursor: string | null): string {
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (f.patrol) q.set("patrol_id", f.patrol);
  if (f.case) q.set("case_id", f.case);
  if (f.from) q.set("captured_from", dayRange(f.from)[0]);
  if (f.to) q.set("captured_to", dayRange(f.to)[1]);
  if (f.flagged) q.set("flagged", "true");
  if (cursor) q.set("cursor", cursor);
  return q.toString();
}

export async function evidencePage(main: HTMLElement): Promise<void> {
  const filter: Filter = {
    patrol: pageParam("patrol") ?? "", case: pageParam("case") ?? "", from: "", to: "", flagged: false,
  };
  // the choices are what the API lists for the caller; a role without a list keeps the filter
  // of its link only
  const [patrols, cases] = await Promise.all([
    api<Patrol[]>("GET", "/patrols?limit=200").catch(() => [] as Patrol[]),
    api<Case[]>("GET", "/cases?limit=200").catch(() => [] as Case[]),
  ]);
  const map = await names();
  const option = (value: string, text: string): HTMLOptionElement => h("option", { value }, text);
  const patrolSelect = h("select", { id: "ev-filter-patrol" }, option("", t("ev_allPatrols")),
    ...patrols.map((p) => option(p.id, `${localMinute(p.startedAt)} · ${who(map, p.inspectorId)}`)));
  if (filter.patrol && !patrols.some((p) => p.id === filter.patrol)) {
    patrolSelect.append(option(filter.patrol, `${t("ev_patrol")} ${filter.patrol.slice(0, 8)}`));
  }
  const caseSelect = h("select", { id: "ev-filter-case" }, option("", t("ev_allCases")),
    ...cases.map((c) => option(c.id, `${c.caseNo} · ${c.cause}`)));
  if (filter.case && !cases.some((c) => c.id === filter.case)) {
    caseSelect.append(option(filter.case, `${t("ev_case")} ${filter.case.slice(0, 8)}`));
  }
  patrolSelect.value = filter.patrol;
  caseSelect.value = filter.case;
  const from = h("input", { type: "date", id: "ev-filter-from" });
  const to = h("input", { type: "date", id: "ev-filter-to" });
  const flagged = h("input", { type: "checkbox", id: "ev-filter-flagged" });
  const list = h("div", { id: "ev-list", "aria-live": "polite" }, loading());
  const panel = h("div", { id: "ev-panel" });
  const more = h("button", { type: "button", id: "ev-more", hidden: true }, t("loadMore"));
  let cursor: string | null = null;
  let grid: HTMLElement | null = null;
  const open = (e: Evidence): void => {
    void showEvidence(panel, e.id);
    panel.scrollIntoView({ block: "nearest" });
  };
  const load = async (append: boolean): Promise<void> => {
    if (!append) {
      cursor = null;
      list.replaceChildren(loading());
      panel.replaceChildren();
    }
    let page: EvidencePage;
    try {
      page = await api<EvidencePage>("GET", `/evidence?${query(filter, cursor)}`);
    } catch (err) {
      list.replaceChildren(failure(err, () => void load(false)));
      return;
    }
    cursor = page.nextCursor ?? null;
    more.hidden = !cursor;
    if (!append || !grid) {
      if (page.items.length === 0) {
        list.replaceChildren(h("p", { class: "muted", id: "ev-empty" }, t("ev_noneFiltered")));
        return;
      }
      grid = gallery(page.items, open);
      list.replaceChildren(grid);
    } else {
      grid.append(...page.items.map((e) => tile(e, open)));
    }
  };
  const refilter = (): void => {
    filter.patrol = patrolSelect.value;
    filter.case = caseSelect.value;
    filter.from = from.value;
    filter.to = to.value;
    filter.flagged = flagged.checked;
    void load(false);
  };
  for (const control of [patrolSelect, caseSelect, from, to, flagged]) control.addEventListener("change", refilter);
  more.addEventListener("click", () => void load(true));
  main.replaceChildren(h("div", { class: "review-page evidence-page" },
    h("div", { class: "toolbar" }, h("h1", {}, t("evidenceLibrary")),
      h("label", { for: "ev-filter-patrol" }, t("ev_patrol")), patrolSelect,
      h("label", { for: "ev-filter-case" }, t("ev_case")), caseSelect,
      h("label", { for: "ev-filter-from" }, t("ev_from")), from,
      h("label", { for: "ev-filter-to" }, t("ev_to")), to,
      h("label", { for: "ev-filter-flagged", class: "check" }, flagged, t("ev_flaggedOnly"))),
    h("p", { class: "muted" }, savedMe()?.role === "security_squad" ? t("ev_squadSees") : t("ev_hint")),
    h("div", { class: "ev-layout" }, h("div", {}, list, more), panel)));
  await load(false);
}
