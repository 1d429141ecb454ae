// What the review pages share: their loading and error states, the county's local time, and
// what a page leaves behind when another one is shown (a polling timer, a map).
import { ApiError } from "./api";
import { h } from "./dom";
import { lang, t } from "./i18n";

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

/** ``2026-12-06 14:03`` in the county's time. */
export function localMinute(iso: string | Date): string {
  return localTime(iso).slice(0, 16);
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
