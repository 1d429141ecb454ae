// Track replay: a patrol picked from ListPatrols (or named by the link, #/replay?patrol=…), its route (GetTrack) with the sign-ins
// (ListSignIns) and findings (ListFindings) on it, and a time slider (keyboard operable: arrow
// keys, Page Up / Down, Home / End) that moves a marker along the route.
import { type Area, type ConsoleConfig, type Schemas, api } from "./api";
import { h } from "./dom";
import { t } from "./i18n";
import { type ReviewMap, areaFeatures, boxOf, collection, reviewMap } from "./reviewmap";
import { failure, fixed, loading, localMinute, localTime, onLeave, pageParam } from "./view";

type Patrol = Schemas["Patrol"];
type SignIn = Schemas["SignIn"];
type Finding = Schemas["Finding"];
type User = Schemas["User"];
type Track = Schemas["TrackGeoJson"];
type Position = [number, number];

interface Route {
  coords: Position[];
  times: number[];  // ms since the epoch, one per position
}

function routeOf(track: Track): Route {
  const feature = track.features.find((f) => (f as { properties?: { kind?: string } }).properties?.kind === "route") as
    | { geometry: { coordinates: Position[] }; properties: { times: string[] } }
    | undefined;
  if (!feature) return { coords: [], times: [] };
  return { coords: feature.geometry.coordinates, times: feature.properties.times.map((s) => Date.parse(s)) };
}

/** The position at ``when`` (ms): interpolated between the two fixes around it. */
export function positionAt(route: Route, when: number): Position {
  const { coords, times } = route;
  if (when <= times[0]!) return coords[0]!;
  for (let i = 1; i < times.length; i++) {
    if (when <= times[i]!) {
      const span = times[i]! - times[i - 1]!;
      const f = span > 0 ? (when - times[i - 1]!) / span : 1;
      const [x0, y0] = coords[i - 1]!;
      const [x1, y1] = coords[i]!;
      return [x0 + (x1 - x0) * f, y0 + (y1 - y0) * f];
    }
  }
  return coords[coords.length - 1]!;
}

function point(coordinates: Position, properties: Record<string, unknown>): GeoJSON.Feature {
  return { type: "Feature", properties, geometry: { type: "Point", coordinates } };
}

function label(p: Patrol, names: Map<string, string>, codes: Map<string, string>): string {
  const km = `${fixed(p.distanceM / 1000)} ${t("km")}`;
  const end = p.endedAt ? "" : ` · ${t("ongoing")}`;
  return `${localMinute(p.startedAt)} · ${names.get(p.inspectorId) ?? p.inspectorId.slice(0, 8)} · ${codes.get(p.areaId) ?? ""} · ${km}${end}`;
}

async function showPatrol(
  view: ReviewMap, panel: HTMLElement, patrol: Patrol, names: Map<string, string>,
): Promise<void> {
  panel.replaceChildren(loading());
  let track: Track, signIns: SignIn[], findings: Finding[];
  try {
    [track, signIns, findings] = await Promise.all([
      api<Track>("GET", `/patrols/${patrol.id}/track`),
      api<SignIn[]>("GET", `/patrols/${patrol.id}/sign-ins`),
      api<Finding[]>("GET", `/patrols/${patrol.id}/findings`),
    ]);
  } catch (err) {
    panel.replaceChildren(failure(err, () => void showPatrol(view, panel, patrol, names)));
    return;
  }
  const route = routeOf(track);
  view.setData("route", collection(route.coords.length > 1
    ? [{ type: "Feature", properties: {}, geometry: { type: "LineString", coordinates: route.coords } }]
    : []));
  view.setData("signins", collection(signIns.map((s) => point([s.lon, s.lat], { id: s.id, at: s.at, kind: "sign_in" }))));
  view.setData("findings", collection(findings.map((f) => point([f.lon, f.lat], { id: f.id, at: f.foundAt, kind: "finding", name: f.projectName }))));
  const fit = boxOf([
    { coordinates: route.coords },
    ...signIns.map((s) => ({ coordinates: [s.lon, s.lat] })),
    ...findings.map((f) => ({ coordinates: [f.lon, f.lat] })),
  ]);
  if (fit) view.map.fitBounds(fit, { padding: 60, maxZoom: 16, animate: false });

  const events = [
    ...signIns.map((s) => ({ at: Date.parse(s.at), text: `${t("signIns")} · ${s.address || `${s.lon.toFixed(5)}, ${s.lat.toFixed(5)}`}`, kind: "sign_in" })),
    ...findings.map((f) => ({ at: Date.parse(f.foundAt), text: `${t("findings")} · ${f.projectName}`, kind: "finding" })),
  ].sort((a, b) => a.at - b.at);

  if (route.coords.length === 0) {
    view.setData("cursor", collection([]));
    panel.replaceChildren(h("p", { class: "muted" }, t("noTrack")), eventList(events, null));
    return;
  }
  const start = route.times[0]!;
  const end = route.times[route.times.length - 1]!;
  const seconds = Math.max(0, Math.round((end - start) / 1000));
  const slider = h("input", {
    type: "range", id: "replay-slider", min: "0", max: String(seconds), step: "1", value: "0",
    "aria-describedby": "replay-hint",
  });
  const output = h("output", { id: "replay-position", for: "replay-slider" });
  const play = h("button", { type: "button", id: "replay-play", "aria-pressed": "false" }, t("play"));
  const move = (): void => {
    const when = start + Number(slider.value) * 1000;
    const [lon, lat] = positionAt(route, when);
    view.setData("cursor", collection([point([lon, lat], { t: new Date(when).toISOString(), lon, lat })]));
    const stamp = localTime(new Date(when));
    slider.setAttribute("aria-valuetext", stamp);
    output.dataset.lon = lon.toFixed(6);
    output.dataset.lat = lat.toFixed(6);
    output.textContent = `${stamp} · ${t("position")} ${lon.toFixed(5)}, ${lat.toFixed(5)}`;
  };
  slider.addEventListener("input", move);
  let timer: number | undefined;
  const stop = (): void => {
    if (timer !== undefined) window.clearInterval(timer);
    timer = undefined;
    play.textContent = t("play");
    play.setAttribute("aria-pressed", "false");
  };
  play.addEventListener("click", () => {
    if (timer !== undefined) return stop();
    if (Number(slider.value) >= seconds) slider.value = "0";
    play.textContent = t("pause");
    play.setAttribute("aria-pressed", "true");
    const step = Math.max(1, Math.round(seconds / 150));
    timer = window.setInterval(() => {
      slider.value = String(Math.min(seconds, Number(slider.value) + step));
      move();
      if (Number(slider.value) >= seconds) stop();
    }, 100);
  });
  onLeave(stop);
  const jump = (at: number): void => {
    slider.value = String(Math.min(seconds, Math.max(0, Math.round((at - start) / 1000))));
    move();
    slider.focus();
  };
  panel.replaceChildren(
    h("div", { class: "slider" },
      h("label", { for: "replay-slider" }, t("replayTime")), slider, play),
    output,
    h("p", { id: "replay-hint", class: "muted" }, t("replayHint")),
    eventList(events, jump));
  move();
}

function eventList(events: Array<{ at: number; text: string; kind: string }>, jump: ((at: number) => void) | null): HTMLElement {
  return h("ol", { class: "events", id: "replay-events" }, ...events.map((e) => {
    const text = `${localTime(new Date(e.at))} · ${e.text}`;
    if (!jump) return h("li", { "data-kind": e.kind }, text);
    const go = h("button", { type: "button", class: "link" }, text);
    go.addEventListener("click", () => jump(e.at));
    return h("li", { "data-kind": e.kind }, go);
  }));
}

export async function replayPage(main: HTMLElement): Promise<void> {
  main.replaceChildren(loading());
  const since = new Date(Date.now() - 30 * 86_400_000).toISOString();
  let patrols: Patrol[], areas: Area[], users: User[], config: ConsoleConfig;
  try {
    [patrols, areas, users, config] = await Promise.all([
      api<Patrol[]>("GET", `/patrols?since=${encodeURIComponent(since)}&limit=500`),
      api<Area[]>("GET", "/areas?include_inactive=true"),
      api<User[]>("GET", "/admin/users"),
      api<ConsoleConfig>("GET", "/console/config"),
    ]);
  } catch (err) {
    main.replaceChildren(failure(err, () => void replayPage(main)));
    return;
  }
  if (!main.isConnected) return;  // another page was opened meanwhile
  const names = new Map(users.map((u) => [u.id, u.displayName]));
  const codes = new Map(areas.map((a) => [a.id, a.code]));
  patrols.sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt));
  const select = h("select", { id: "replay-patrol" },
    h("option", { value: "" }, `— ${t("choosePatrol")} —`),
    ...patrols.map((p) => h("option", { value: p.id }, label(p, names, codes))));
  const panel = h("section", { class: "card replay-panel", id: "replay-panel", "aria-live": "polite" },
    h("p", { class: "muted" }, patrols.length ? t("pickPatrolFirst") : t("noPatrols")));
  const container = h("div", { class: "review-map", id: "replay-map" });
  main.replaceChildren(h("div", { class: "review-page replay-page" },
    h("div", { class: "toolbar" }, h("h1", {}, t("replay")),
      h("label", { for: "replay-patrol" }, t("choosePatrol")), select),
    h("div", { class: "split" }, h("div", { class: "map-box" }, container), panel)));
  const empty = collection([]);
  const view = reviewMap(container, config, areaFeatures(areas.filter((a) => a.active !== false)),
    { route: empty, signins: empty, findings: empty, cursor: empty },
    [
      { id: "areas-line", type: "line", source: "areas", paint: { "line-color": "#1565c0", "line-width": 1.5, "line-opacity": 0.6 } },
      { id: "route-line", type: "line", source: "route", layout: { "line-join": "round", "line-cap": "round" }, paint: { "line-color": "#6a1b9a", "line-width": 4 } },
      { id: "signins-circle", type: "circle", source: "signins", paint: { "circle-color": "#0277bd", "circle-radius": 7, "circle-stroke-color": "#fff", "circle-stroke-width": 2 } },
      { id: "findings-circle", type: "circle", source: "findings", paint: { "circle-color": "#d50000", "circle-radius": 7, "circle-stroke-color": "#fff", "circle-stroke-width": 2 } },
      { id: "cursor-circle", type: "circle", source: "cursor", paint: { "circle-color": "#ffa000", "circle-radius": 9, "circle-stroke-color": "#263238", "circle-stroke-width": 2 } },
    ],
    boxOf(areas.map((a) => a.geometry)));
  select.addEventListener("change", () => {
    const patrol = patrols.find((p) => p.id === select.value);
    if (patrol) void showPatrol(view, panel, patrol, names);
  });
  // a link names a patrol (#/replay?patrol=…): shown at once, even one older than the list's
  const wanted = pageParam("patrol");
  if (!wanted) return;
  let patrol = patrols.find((p) => p.id === wanted);
  if (!patrol) {
    try {
      patrol = await api<Patrol>("GET", `/patrols/${wanted}`);
    } catch (err) {
      panel.replaceChildren(failure(err, () => void replayPage(main)));
      return;
    }
    patrols.push(patrol);
    select.append(h("option", { value: patrol.id }, label(patrol, names, codes)));
  }
  select.value = patrol.id;
  void showPatrol(view, panel, patrol, names);
}
