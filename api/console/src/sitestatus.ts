// A closed-mine site's register status (closed, signs of reopening, reopened, remediated) with
// its colour, and the five roles of its five-to-one roster in the roster form's order: shared by
// the map, mine-sites and duty pages without the map code.
export const SITE_STATUSES = ["closed", "signs_of_reopening", "reopened", "remediated"] as const;
export type SiteStatus = (typeof SITE_STATUSES)[number];

export const SITE_STATUS_COLORS: Record<SiteStatus, string> = {
  closed: "#546e7a",
  signs_of_reopening: "#ffa000",
  reopened: "#d50000",
  remediated: "#43a047",
};

/** The legend's rows: the status, its word (``ms_<status>``) and colour. */
export const MINE_STATUS = SITE_STATUSES.map((s) => ({ value: s, word: `ms_${s}`, color: SITE_STATUS_COLORS[s] }));

/** The five-to-one roles in the roster form's order (``rl_<role>``, short ``rls_<role>``). */
export const ROSTER_ROLES = ["township_leader", "safety_officer", "village_liaison_cadre", "land_resources_staff", "village_cadre"] as const;
