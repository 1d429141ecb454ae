// What the review pages share: their loading and error states, the county's local time, a
// deadline's countdown, the parameters a link gives a page (#/replay?patrol=…), and what a page
// leaves behind when another one is shown (a polling timer, a map).
import { ApiError } from "./api";
import { h } from "./dom";
import { lang, t, tr } from "./i18n";

const leaving: Array<() => void> = [];

/** ``fn`` runs when the page is left (another page, the login, the language switch). */
export function onLeave(fn: () => void): void {
  leaving.push(fn);
}

export function leavePage(): void {
  for (const fn of leaving.splice(0)) {
    try {
      fn();
    } catch {
      // a page already torn down
    }
  }
}

export function loading(): HTMLElement {
  return h("p", { class: "loading", role: "status" }, t("loading"));
}

/** An error that says what happened and what to do, with a retry button. */
export function failure(err: unknown, retry: () => void): HTMLElement {
  const forbidden = err instanceof ApiError && err.status === 403;
  const detail = err instanceof Error ? err.message : String(err);
  const again = h("button", { type: "button", class: "retry" }, t("retry"));
  again.addEventListener("click", retry);
  return h("div", { class: "failure", role: "alert" },
    h("p", { class: "error" }, `${t("loadFailed")}：${detail}`),
    h("p", {}, forbidden ? t("forbidden") : t("whatToDo")),
    forbidden ? null : again);
}

// the counties' time zone (infra.scope.COUNTY_TZ)
const TZ = "Asia/Shanghai";
const stamp = new Intl.DateTimeFormat("sv-SE", {
  timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});

/** ``2026-12-06 14:03:07`` in the county's time. */
export function localTime(iso: string | Date): string {
  return stamp.format(typeof iso === "string" ? new Date(iso) : iso);
}

/** Today (``2026-12-06``) in the county's time. */
export function today(): string {
  return localTime(new Date()).slice(0, 10);
}

/** The first moment of the county's day ``day`` (``2026-10-05``) and of the next day. */
export function dayRange(day: string): [string, string] {
  const next = new Date(`${day}T00:00:00Z`);
  next.setUTCDate(next.getUTCDate() + 1);
  return [`${day}T00:00:00+08:00`, `${next.toISOString().slice(0, 10)}T00:00:00+08:00`];
}

/** The first moment of ``month`` (``2026-10``) and of the next month in the county's time. */
export function monthRange(month: string): [string, string] {
  const [y, m] = month.split("-").map(Number) as [number, number];
  const next = m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, "0")}`;
  return [`${month}-01T00:00:00+08:00`, `${next}-01T00:00:00+08:00`];
}

/** ``2026-12-06 14:03`` in the county's time. */
export function localMinute(iso: string | Date): string {
  return localTime(iso).slice(0, 16);
}

/** ``<input type=datetime-local>`` value of a moment in the county's time (as the queue shows it). */
export function localInput(moment: Date): string {
  return localMinute(moment).replace(" ", "T");
}

/** The moment a ``datetime-local`` value names in the county's time (China: UTC+8, no DST). */
export function fromLocalInput(value: string): string {
  return new Date(`${value}:00+08:00`).toISOString();
}

export function fixed(value: number, digits = 1): string {
  return value.toLocaleString(lang() === "en" ? "en" : "zh-CN", {
    minimumFractionDigits: digits, maximumFractionDigits: digits,
  });
}

/** Hands a fetched file to the browser as a download under ``name``. */
export function saveFile(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** What went wrong (the API's ``detail``) and what to do about it (the error code's hint). */
export function problemText(err: unknown): string {
  const detail = err instanceof Error ? err.message : String(err);
  const code = err instanceof ApiError ? err.problem.code ?? "" : "";
  const hint = tr(`do_${code}`);
  return `${t("actionFailed")}：${detail}。${hint !== `do_${code}` ? hint : t("whatToDo")}`;
}

/** Whether the API refused the caller's role this operation (a part of a page it cannot see). */
export function refusedRole(err: unknown): boolean {
  return err instanceof ApiError && err.status === 403 && err.problem.code === "role_not_allowed";
}

/** ``3天4小时`` (or ``3 d 4 h``) of a duration in seconds; minutes under an hour. */
export function span(seconds: number): string {
  const s = Math.max(0, Math.floor(Math.abs(seconds)));
  const d = Math.floor(s / 86_400);
  const hh = Math.floor((s % 86_400) / 3_600);
  const mm = Math.floor((s % 3_600) / 60);
  const en = lang() === "en";
  if (d > 0) return en ? `${d} d ${hh} h` : `${d}天${hh}小时`;
  if (hh > 0) return en ? `${hh} h ${mm} min` : `${hh}小时${mm}分`;
  return en ? `${mm} min` : `${mm}分钟`;
}

/** The countdown to ``dueAt``: time left, or how long it is overdue (text and colour);
 * :func:`repaintCountdowns` moves it on. */
export function countdown(dueAt: string): HTMLElement {
  const el = h("span", { class: "countdown", "data-due-at": dueAt });
  paint(el);
  return el;
}

function paint(el: HTMLElement): void {
  const left = (Date.parse(el.dataset["dueAt"] ?? "") - Date.now()) / 1000;
  const over = left < 0;
  el.className = over ? "countdown overdue" : "countdown";
  el.textContent = over ? `${t("dueOverdueBy")} ${span(left)}` : `${t("dueLeft")} ${span(left)}`;
}

/** Every countdown under ``root`` once more, then every 30 s while the page is shown. */
export function repaintCountdowns(root: HTMLElement): void {
  const timer = window.setInterval(() => root.querySelectorAll<HTMLElement>(".countdown").forEach(paint), 30_000);
  onLeave(() => window.clearInterval(timer));
}

/** A parameter of the page's link (``#/replay?patrol=…``), or ``null``. */
export function pageParam(name: string): string | null {
  const query = location.hash.split("?")[1] ?? "";
  return new URLSearchParams(query).get(name);
}

/** ``#/page?name=value``: a link that opens ``page`` with a parameter. */
export function pageLink(page: string, params: Record<string, string> = {}): string {
  const query = new URLSearchParams(params).toString();
  return `#/${page}${query ? `?${query}` : ""}`;
}

/** A ``<dl>`` of the rows whose value is given (``null``/``""``: left out). */
export function facts(id: string, rows: Array<[string, string | Node | null | undefined]>): HTMLElement {
  const dl = h("dl", { class: "facts", id });
  for (const [term, value] of rows) {
    if (value === null || value === undefined || value === "") continue;
    dl.append(h("dt", {}, term), h("dd", {}, value));
  }
  return dl;
}

/** What a location check found (features of the reference layers around a position). */
export function locationHits(
  features: ReadonlyArray<{ kind: string; relation: string; distanceM: number; landClass?: string | null }>,
): HTMLElement {
  if (features.length === 0) return h("p", {}, t("nothingHere"));
  return h("ul", { class: "hits" }, ...features.map((f) =>
    h("li", {},
      h("strong", {}, tr(f.kind)), " · ",
      f.landClass ? `${tr(`lc_${f.landClass}`)} · ` : "",
      `${tr(f.relation)} · ${t("distance")} ${f.distanceM.toFixed(1)} ${t("metres")}`)));
}
