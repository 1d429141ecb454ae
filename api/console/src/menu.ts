// What each role finds in the navigation. The map is for everyone but the procuratorate and the
// first page of all but captains and admins, who land on the overview; the review pages
// (coverage, live status, track replay, alerts, the satellite campaign, statistics and reports,
// the closed mines with their five-to-one rosters and duty) are theirs, and so is editing the
// patrol plans, which inspectors read (their own, read only); the patrol records are theirs
// (巡查记录) and the field crews' own (我的巡查); the findings and the evidence library are for them
// and the security squad; cases for everyone who works them or supervises them. What each page
// then shows is what the API gives the caller. The county administration pages (users,
// townships and villages, layer import, devices, settings) are the admin's alone. The
// procuratorate (read-only supervision of referrals) has no map: its API allowlist holds no
// tiles or areas.
import type { Word } from "./i18n";

export type Role =
  "inspector" | "joint_team" | "captain" | "security_squad" | "admin" | "clue_desk" | "procuratorate";

export interface Page {
  id: string;
  word: Word;
  roles: readonly Role[];
}

const ALL: readonly Role[] = ["inspector", "joint_team", "captain", "security_squad", "admin", "clue_desk"];
const MANAGERS: readonly Role[] = ["captain", "admin"];

export const PAGES: readonly Page[] = [
  { id: "overview", word: "overview", roles: MANAGERS },
  { id: "map", word: "map", roles: ALL },
  { id: "my-patrols", word: "myPatrols", roles: ["inspector", "joint_team"] },
  { id: "plans", word: "plans", roles: [...MANAGERS, "inspector"] },
  { id: "patrols", word: "patrols", roles: MANAGERS },
  { id: "findings", word: "findings", roles: [...MANAGERS, "security_squad"] },
  { id: "tipoffs", word: "tipoffs", roles: ["clue_desk", ...MANAGERS] },
  { id: "cases", word: "cases", roles: [...MANAGERS, "security_squad", "inspector", "joint_team", "procuratorate"] },
  { id: "referrals", word: "referrals", roles: [...MANAGERS, "security_squad", "procuratorate"] },
  { id: "evidence", word: "evidenceLibrary", roles: [...MANAGERS, "security_squad"] },
  { id: "mine-sites", word: "mineSites", roles: MANAGERS },
  { id: "duty", word: "duty", roles: MANAGERS },
  { id: "coverage", word: "coverage", roles: MANAGERS },
  { id: "live", word: "live", roles: MANAGERS },
  { id: "replay", word: "replay", roles: MANAGERS },
  { id: "alerts", word: "alerts", roles: MANAGERS },
  { id: "satellite", word: "satellite", roles: MANAGERS },
  { id: "reports", word: "reports", roles: MANAGERS },
  { id: "users", word: "users", roles: ["admin"] },
  { id: "regions", word: "regions", roles: ["admin"] },
  { id: "layers", word: "layers", roles: ["admin"] },
  { id: "devices", word: "devices", roles: ["admin"] },
  { id: "settings", word: "settings", roles: ["admin"] },
];

/** The county administration pages: reached by another role (a link an admin passed on),
 * they say that the role may not use them rather than silently showing another page. */
export const ADMIN_PAGES: readonly Page[] = PAGES.filter((p) => p.roles.length === 1 && p.roles[0] === "admin");

/** The roles that flag cases and findings for a criminal referral (FlagForReferral answers the
 * others ``role_not_allowed``): the flag's form is offered to them only. */
export const FLAGGERS: readonly string[] = ["security_squad", "captain"];

export function pagesFor(role: string): Page[] {
  return PAGES.filter((p) => (p.roles as readonly string[]).includes(role));
}

/** The page a role lands on after the login (the first of its menu). */
export function homePage(role: string): string {
  return pagesFor(role)[0]?.id ?? "map";
}
