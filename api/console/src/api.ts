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

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {
    Accept: "application/json",
    "Accept-Language": lang() === "en" ? "en" : "zh-CN",
    ...authHeaders(),
  };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
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
  return (await resp.json()) as T;
}

export async function logIn(username: string, password: string): Promise<Me> {
  const pair = await api<TokenPair>("POST", "/auth/token", { username, password });
  sessionStorage.setItem(TOKEN, pair.accessToken);
  const me = await api<Me>("GET", "/me");
  sessionStorage.setItem(ME, JSON.stringify(me));
  return me;
}
