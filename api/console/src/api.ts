// Calls to the API of the same origin with the token of this browser tab (sessionStorage:
// gone when the tab closes). A 401 anywhere ends the session and shows the login page.
import type { components } from "./api-types";
import { lang, t } from "./i18n";

export type Schemas = components["schemas"];
export type Me = Schemas["Me"];
export type TokenPair = Schemas["TokenPair"];
export type ConsoleConfig = Schemas["ConsoleConfig"];
export type Area = Schemas["Area"];
export type CheckResult = Schemas["CheckResult"];
export type FeatureHit = Schemas["FeatureHit"];
export type OverlayResult = Schemas["OverlayResult"];
export type Problem = Schemas["Problem"];

const TOKEN = "patrol.console.token";
const ME = "patrol.console.me";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Partial<Problem>,
  ) {
    super(problem.detail || problem.title || `HTTP ${status}`);
  }
}

let onUnauthorized: (message: string) => void = () => {};

export function whenUnauthorized(handler: (message: string) => void): void {
  onUnauthorized = handler;
}

export function token(): string | null {
  return sessionStorage.getItem(TOKEN);
}

export function savedMe(): Me | null {
  const raw = sessionStorage.getItem(ME);
  return raw ? (JSON.parse(raw) as Me) : null;
}

export function endSession(): void {
  sessionStorage.removeItem(TOKEN);
  sessionStorage.removeItem(ME);
}

export function authHeaders(): Record<string, string> {
  const bearer = token();
  return bearer ? { Authorization: `Bearer ${bearer}` } : {};
}

async function send(method: string, path: string, body: unknown, accept: string): Promise<Response> {
  const headers: Record<string, string> = {
    Accept: accept,
    "Accept-Language": lang() === "en" ? "en" : "zh-CN",
    ...authHeaders(),
  };
  // a form (a file upload) is sent as multipart, with the boundary the browser chooses
  const form = body instanceof FormData;
  if (body !== undefined && !form) headers["Content-Type"] = "application/json";
  const resp = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : form ? body : JSON.stringify(body),
    credentials: "omit",
  });
  if (resp.status === 401 && token() !== null) {
    endSession();
    onUnauthorized(t("sessionExpired"));
  }
  if (!resp.ok) {
    let problem: Partial<Problem> = {};
    try {
      problem = (await resp.json()) as Partial<Problem>;
    } catch {
      problem = { title: resp.statusText };
    }
    throw new ApiError(resp.status, problem);
  }
  return resp;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  return (await (await send(method, path, body, "application/json")).json()) as T;
}

/** A multipart form (a file upload) posted to ``path``: the answer's status (200, 202...) and
 * body. */
export async function apiForm<T>(path: string, form: FormData): Promise<{ status: number; body: T }> {
  const resp = await send("POST", path, form, "application/json");
  return { status: resp.status, body: (await resp.json()) as T };
}

/** The file name a ``Content-Disposition`` header gives (RFC 5987 ``filename*`` first). */
export function attachmentName(header: string | null, fallback: string): string {
  if (!header) return fallback;
  const star = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(header);
  if (star?.[1]) {
    try {
      return decodeURIComponent(star[1].trim());
    } catch {
      // a malformed escape: the plain name below
    }
  }
  const plain = /filename\s*=\s*"?([^";]+)"?/i.exec(header);
  return plain?.[1]?.trim() || fallback;
}

/** A file the API answers (an export), with its name and the answer's headers, fetched with
 * the tab's token (``method`` POST for an export the API records as an act, a package). */
export async function apiFile(
  path: string, fallback: string, method: "GET" | "POST" = "GET",
): Promise<{ blob: Blob; name: string; headers: Headers }> {
  const resp = await send(method, path, undefined, "*/*");
  return {
    blob: await resp.blob(),
    name: attachmentName(resp.headers.get("Content-Disposition"), fallback),
    headers: resp.headers,
  };
}

export async function logIn(username: string, password: string): Promise<Me> {
  const pair = await api<TokenPair>("POST", "/auth/token", { username, password });
  sessionStorage.setItem(TOKEN, pair.accessToken);
  const me = await api<Me>("GET", "/me");
  sessionStorage.setItem(ME, JSON.stringify(me));
  return me;
}

/** A UUIDv7 (time-ordered, as the phones mint them) from the browser's random source. */
export function uuid7(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  let ms = Date.now();
  for (let i = 5; i >= 0; i--) {
    b[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
