// Live status (GetLiveStatus): who is patrolling now, who patrolled today and who has not, on
// the map (the last fix of a running patrol) and in a list; asked again every 15 seconds, with
// the time of the last refresh.
import { type Area, type ConsoleConfig, type Schemas, api } from "./api";
import { h } from "./dom";
import { t } from "./i18n";
import { type ReviewMap, areaFeatures, boxOf, collection, reviewMap } from "./reviewmap";
import { failure, fixed, loading, localMinute, localTime, onLeave } from "./view";

type LiveStatus = Schemas["LiveStatus"];
type LiveInspector = Schemas["LiveInspector"];
type State = LiveInspector["status"];

export const REFRESH_MS = 15_000;
const STATES: State[] = ["patrolling", "patrolled_today", "not_today"];
const COLORS: Record<State, string> = { patrolling: "#2e7d32", patrolled_today: "#1565c0", not_today: "#9e9e9e" };

function people(board: LiveStatus): GeoJSON.FeatureCollection {
  return collection(board.inspectors
    .filter((p) => p.lon !== null && p.lon !== undefined && p.lat !== null && p.lat !== undefined)
    .map((p) => ({
      type: "Feature",
      properties: { user_id: p.userId, name: p.name, status: p.status },
      geometry: { type: "Point", coordinates: [p.lon as number, p.lat as number] },
    })));
}

function lists(board: LiveStatus): HTMLElement {
  const counts: Record<State, number> = {
    patrolling: board.patrolling, patrolled_today: board.patrolledToday, not_today: board.notToday,
  };
  return h("div", { class: "live-lists" }, ...STATES.map((state) => {
    const mine = board.inspectors.filter((p) => p.status === state);
    const items = mine.length
      ? mine.map((p) => h("li", { "data-user-id": p.userId },
          h("strong", {}, p.name),
          h("span", { class: "muted" },
            ` · ${t("patrolsToday")} ${p.patrolsToday}${t("times")} · ${t("distanceToday")} ${fixed(p.distanceTodayM / 1000)} ${t("km")}`),
          p.status === "patrolling"
            ? h("span", { class: "muted" }, ` · ${t("lastSeen")} ${p.lastSeenAt ? localMinute(p.lastSeenAt) : t("noPosition")}`)
            : null))
      : [h("li", { class: "muted" }, t("nobody"))];
    const dot = h("span", { class: "swatch", "data-color": COLORS[state] });
    dot.style.background = COLORS[state];
    return h("section", { class: "card", "data-status": state, "aria-labelledby": `live-${state}` },
      h("h2", { id: `live-${state}` }, dot, ` ${t(`st_${state}`)}（${counts[state]}）`),
      h("ul", { class: "people" }, ...items));
  }));
}

export async function livePage(main: HTMLElement): Promise<void> {
  main.replaceChildren(loading());
  let areas: Area[], config: ConsoleConfig, board: LiveStatus;
  try {
    [areas, config, board] = await Promise.all([
      api<Area[]>("GET", "/areas"),
      api<ConsoleConfig>("GET", "/console/config"),
      api<LiveStatus>("GET", "/live-status"),
    ]);
  } catch (err) {
    main.replaceChildren(failure(err, () => void livePage(main)));
    return;
  }
  if (!main.isConnected) return;  // another page was opened meanwhile
  const stamp = h("p", { class: "refreshed", id: "live-refreshed", role: "status" });
  const problem = h("p", { class: "error", id: "live-error", role: "alert" });
  const body = h("div", { id: "live-lists" });
  const container = h("div", { class: "review-map", id: "live-map" });
  main.replaceChildren(h("div", { class: "review-page live-page" },
    h("div", { class: "toolbar" }, h("h1", {}, t("live")), stamp, problem),
    h("div", { class: "split" }, h("div", { class: "map-box" }, container), body)));
  const color = ["match", ["get", "status"], "patrolling", COLORS.patrolling, "patrolled_today", COLORS.patrolled_today, COLORS.not_today];
  const view: ReviewMap = reviewMap(container, config, areaFeatures(areas), { people: people(board) }, [
    { id: "areas-line", type: "line", source: "areas", paint: { "line-color": "#1565c0", "line-width": 2 } },
    {
      id: "people-circle", type: "circle", source: "people",
      paint: { "circle-color": color as never, "circle-radius": 8, "circle-stroke-color": "#fff", "circle-stroke-width": 2 },
    },
  ], boxOf(areas.map((a) => a.geometry)));
  let refreshes = 0;
  const show = (next: LiveStatus): void => {
    refreshes += 1;
    body.replaceChildren(lists(next));
    view.setData("people", people(next));
    stamp.dataset.refreshes = String(refreshes);
    stamp.textContent = `${t("lastRefresh")}：${localTime(new Date())}（${t("refreshEvery")}）`;
    problem.textContent = "";
  };
  show(board);
  const timer = window.setInterval(() => {
    api<LiveStatus>("GET", "/live-status").then(show).catch((err: unknown) => {
      problem.textContent = `${t("refreshFailed")}：${err instanceof Error ? err.message : String(err)}`;
    });
  }, REFRESH_MS);
  onLeave(() => window.clearInterval(timer));
}
