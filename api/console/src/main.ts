// The console: a login page, then a shell whose navigation depends on the role; pages are
// addressed by the hash (#/map, #/cases...), so a reload keeps the page.
import "maplibre-gl/dist/maplibre-gl.css";
import "./style.css";
import {
  ApiError,
  type Area,
  type ConsoleConfig,
  type Me,
  api,
  endSession,
  logIn,
  savedMe,
  token,
  whenUnauthorized,
} from "./api";
import { h } from "./dom";
import { type Word, fill, lang, setLang, t, tr } from "./i18n";
import type { MapData } from "./map";
import { ADMIN_PAGES, homePage, pagesFor } from "./menu";
import { failure, leavePage } from "./view";

const root = document.getElementById("app") as HTMLElement;
// why the login page is shown again (a session that ended), until the next login
let notice = "";

function languageButton(): HTMLButtonElement {
  const button = h("button", { type: "button", class: "lang", lang: lang() === "en" ? "zh-CN" : "en" }, t("language"));
  button.addEventListener("click", () => {
    setLang(lang() === "en" ? "zh" : "en");
    render();
  });
  return button;
}

function loginPage(message: string): void {
  const user = h("input", { id: "username", name: "username", autocomplete: "username", required: true });
  const pass = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const status = h("p", { id: "login-status", class: "error", role: "alert" }, message);
  const submit = h("button", { type: "submit" }, t("login"));
  const form = h("form", { class: "login", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, t("loginTitle")),
    h("label", { for: "username" }, t("username")), user,
    h("label", { for: "password" }, t("password")), pass,
    submit, status);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submit.disabled = true;
    status.textContent = t("loggingIn");
    logIn(user.value.trim(), pass.value)
      .then((me) => {
        notice = "";
        if (!location.hash || location.hash === "#/login") location.hash = `#/${homePage(me.role)}`;
        render();
      })
      .catch((err: unknown) => {
        status.textContent = err instanceof ApiError ? `${t("loginFailed")}: ${err.message}` : String(err);
        submit.disabled = false;
        pass.select();
      });
  });
  root.replaceChildren(h("div", { class: "login-page" },
    h("header", {}, h("p", { class: "brand" }, t("appName")), languageButton()), form));
  user.focus();
}

/** The page the hash names ("" when none: the role's first page); what follows a ``?`` is
 * the page's parameters (view.pageParam). */
function currentPage(): string {
  return location.hash.replace(/^#\/?/, "").split("?")[0] ?? "";
}

// the review pages, each a chunk of its own (those with a map load MapLibre with them)
const REVIEW: Record<string, (main: HTMLElement) => Promise<void>> = {
  coverage: (main) => import("./coverage").then(({ coveragePage }) => coveragePage(main)),
  live: (main) => import("./live").then(({ livePage }) => livePage(main)),
  replay: (main) => import("./replay").then(({ replayPage }) => replayPage(main)),
  alerts: (main) => import("./alerts").then(({ alertsPage }) => alertsPage(main)),
  satellite: (main) => import("./satellite").then(({ satellitePage }) => satellitePage(main)),
  overview: (main) => import("./overview").then(({ overviewPage }) => overviewPage(main)),
  reports: (main) => import("./reports").then(({ reportsPage }) => reportsPage(main)),
  referrals: (main) => import("./referrals").then(({ referralsPage }) => referralsPage(main)),
  tipoffs: (main) => import("./tipoffs").then(({ tipoffsPage }) => tipoffsPage(main)),
  plans: (main) => import("./plans").then(({ plansPage }) => plansPage(main)),
  "mine-sites": (main) => import("./minesites").then(({ mineSitesPage }) => mineSitesPage(main)),
  duty: (main) => import("./duty").then(({ dutyPage }) => dutyPage(main)),
  users: (main) => import("./users").then(({ usersPage }) => usersPage(main)),
  regions: (main) => import("./regions").then(({ regionsPage }) => regionsPage(main)),
  layers: (main) => import("./layers").then(({ layersPage }) => layersPage(main)),
  devices: (main) => import("./devices").then(({ devicesPage }) => devicesPage(main)),
  settings: (main) => import("./settings").then(({ settingsPage }) => settingsPage(main)),
  patrols: (main) => import("./patrols").then(({ patrolsPage }) => patrolsPage(main, "patrols")),
  "my-patrols": (main) => import("./patrols").then(({ patrolsPage }) => patrolsPage(main, "my-patrols")),
  findings: (main) => import("./findings").then(({ findingsPage }) => findingsPage(main)),
  cases: (main) => import("./cases").then(({ casesPage }) => casesPage(main)),
  evidence: (main) => import("./evidence").then(({ evidencePage }) => evidencePage(main)),
};

/** An administration page named by a role that may not use it: said, not swapped for another. */
function refused(main: HTMLElement, word: Word, me: Me): void {
  main.replaceChildren(h("div", { class: "failure", role: "alert", id: "page-refused" },
    h("h1", {}, t(word)),
    h("p", { class: "error" }, fill("adminOnly", { role: tr(`role_${me.role}`) })),
    h("p", {}, t("forbidden"))));
}

function shell(me: Me): void {
  const pages = pagesFor(me.role);
  const named = currentPage();
  const outside = pages.some((p) => p.id === named) ? undefined : ADMIN_PAGES.find((p) => p.id === named);
  const page = pages.find((p) => p.id === named) ?? pages[0]!;
  const nav = h("nav", { "aria-label": t("menu") }, h("ul", {}, ...pages.map((p) =>
    h("li", {}, h("a", {
      href: `#/${p.id}`,
      "data-page": p.id,
      "aria-current": p.id === page.id && !outside ? "page" : undefined,
    }, t(p.word))))));
  const logout = h("button", { type: "button", class: "logout" }, t("logout"));
  logout.addEventListener("click", () => {
    endSession();
    location.hash = "#/login";
    render();
  });
  const main = h("main", { id: "main", tabindex: "-1" });
  const skip = h("a", { class: "skip", href: "#main" }, t("skipToContent"));
  skip.addEventListener("click", (e) => {
    e.preventDefault();  // the hash names the page; the link only moves the focus
    main.focus();
  });
  root.replaceChildren(
    skip,
    h("header", { class: "top" },
      h("p", { class: "brand" }, t("appName")),
      h("p", { class: "who" }, `${me.displayName}（${tr(`role_${me.role}`)}）· ${me.county.name}`),
      languageButton(), logout),
    h("div", { class: "body" }, nav, main));
  document.title = `${t((outside ?? page).word)} · ${t("appName")}`;
  if (outside) {
    refused(main, outside.word, me);
  } else if (page.id === "map") {
    // the map's data is asked for while MapLibre (a chunk of its own) is still loading
    const data: Promise<MapData> = Promise.all([
      api<ConsoleConfig>("GET", "/console/config"),
      api<Area[]>("GET", "/areas"),
    ]).then(([config, areas]) => ({ config, areas }));
    main.replaceChildren(h("p", { class: "loading" }, t("loading")));
    import("./map").then(({ mapPage }) => mapPage(main, data)).catch((err: unknown) => {
      main.replaceChildren(h("p", { class: "error", role: "alert" }, (err as Error).message));
    });
  } else if (page.id in REVIEW) {
    const show = (): void => {
      main.replaceChildren(h("p", { class: "loading" }, t("loading")));
      REVIEW[page.id]!(main).catch((err: unknown) => main.replaceChildren(failure(err, show)));
    };
    show();
  } else {
    main.replaceChildren(h("h1", {}, t(page.word)), h("p", { class: "placeholder" }, t("placeholder")));
  }
}

function render(): void {
  leavePage();
  document.documentElement.lang = lang() === "en" ? "en" : "zh-CN";
  const me = savedMe();
  if (!token() || !me || currentPage() === "login") {
    if (token() && me) {
      location.hash = `#/${homePage(me.role)}`;
      return;
    }
    loginPage(notice);
    return;
  }
  shell(me);
}

whenUnauthorized((message) => {
  notice = message;
  location.hash = "#/login";
  render();
});
window.addEventListener("hashchange", () => render());
render();
