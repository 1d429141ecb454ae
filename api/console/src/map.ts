// The map page: the county's reference layers as our own vector tiles (GetTile), the contract
// areas (ListAreas), a legend with layer toggles, a panel with the clicked feature's
// attributes and the location check (CheckLocation) of the clicked point, and the land-class
// breakdown of a drawn or loaded area (OverlayArea, overlay.ts).
import {
  AttributionControl,
  type ExpressionSpecification,
  type LayerSpecification,
  type MapGeoJSONFeature,
  Map as MapLibre,
  NavigationControl,
  ScaleControl,
  type StyleSpecification,
} from "maplibre-gl";
import { type Area, type CheckResult, type ConsoleConfig, api, authHeaders } from "./api";
import { h } from "./dom";
import { wgs84ToGcj02 } from "./gcj02";
import { type Word, t, tr } from "./i18n";
import { boxOf, keepWorker, perFeature, useOwnWorker } from "./reviewmap";
import { overlayTool } from "./overlay";
import { MINE_STATUS } from "./sitestatus";
import { locationHits, onLeave } from "./view";

interface Swatch {
  value: string;
  word: string;
  color: string;
}

const LAND_CLASSES: Swatch[] = [
  { value: "permanent_basic_farmland", word: "lc_permanent_basic_farmland", color: "#2e7d32" },
  { value: "cultivated", word: "lc_cultivated", color: "#9ccc65" },
  { value: "other_farmland", word: "lc_other_farmland", color: "#c5e1a5" },
  { value: "construction_approved", word: "lc_construction_approved", color: "#90a4ae" },
  { value: "construction_unapproved", word: "lc_construction_unapproved", color: "#e53935" },
  { value: "unused", word: "lc_unused", color: "#d7ccc8" },
  { value: "other", word: "lc_other", color: "#bdbdbd" },
];
const ZONES: Swatch[] = [
  { value: "basic_farmland", word: "zk_basic_farmland", color: "#1b5e20" },
  { value: "ecological_redline", word: "zk_ecological_redline", color: "#00897b" },
  { value: "urban_development", word: "zk_urban_development", color: "#6a1b9a" },
  { value: "village_construction", word: "zk_village_construction", color: "#ef6c00" },
  { value: "other", word: "zk_other", color: "#757575" },
];
const AREA_COLOR = "#1565c0";
const BACKGROUND: LayerSpecification = { id: "background", type: "background", paint: { "background-color": "#f4f1ea" } };
const CHANGE_COLOR = "#d50000";

function byValue(property: string, swatches: Swatch[], fallback: string): ExpressionSpecification {
  const pairs = swatches.flatMap((s) => [s.value, s.color]);
  return ["match", ["get", property], ...pairs, fallback] as unknown as ExpressionSpecification;
}

interface Group {
  key: string;
  word: Word;
  layers: string[];
  swatches: Swatch[];
}

const GROUPS: Group[] = [
  { key: "areas", word: "areas", layers: ["areas-fill", "areas-line"], swatches: [{ value: "", word: "areas", color: AREA_COLOR }] },
  { key: "parcels", word: "parcels", layers: ["parcels-fill", "parcels-line"], swatches: LAND_CLASSES },
  { key: "planning_zones", word: "planning_zones", layers: ["planning_zones-line"], swatches: ZONES },
  { key: "change_polygons", word: "change_polygons", layers: ["change_polygons-fill", "change_polygons-line"], swatches: [{ value: "", word: "change_polygons", color: CHANGE_COLOR }] },
  { key: "mine_sites", word: "mine_sites", layers: ["mine_sites-fill", "mine_sites-line", "mine_sites-circle"], swatches: MINE_STATUS },
];

const POLYGONS: ExpressionSpecification = ["==", ["geometry-type"], "Polygon"];
const POINTS: ExpressionSpecification = ["==", ["geometry-type"], "Point"];

// Every fill and line is coloured per feature and fills draw no outline of their own (their
// line layer does): see ``perFeature``.
function referenceLayers(): LayerSpecification[] {
  const land = byValue("land_class", LAND_CLASSES, "#bdbdbd");
  const status = byValue("status", MINE_STATUS, "#546e7a");
  const change = perFeature(CHANGE_COLOR);
  const area = perFeature(AREA_COLOR);
  const fill = { "fill-antialias": false };
  return [
    { id: "parcels-fill", type: "fill", source: "parcels", "source-layer": "parcels", paint: { ...fill, "fill-color": land, "fill-opacity": 0.45 } },
    { id: "parcels-line", type: "line", source: "parcels", "source-layer": "parcels", paint: { "line-color": land, "line-width": 0.6 } },
    { id: "planning_zones-line", type: "line", source: "planning_zones", "source-layer": "planning_zones", paint: { "line-color": byValue("zone_kind", ZONES, "#757575"), "line-width": 2, "line-dasharray": [3, 2] } },
    { id: "change_polygons-fill", type: "fill", source: "change_polygons", "source-layer": "change_polygons", paint: { ...fill, "fill-color": change, "fill-opacity": 0.2 } },
    { id: "change_polygons-line", type: "line", source: "change_polygons", "source-layer": "change_polygons", paint: { "line-color": change, "line-width": 1.5 } },
    { id: "areas-fill", type: "fill", source: "areas", paint: { ...fill, "fill-color": area, "fill-opacity": 0.06 } },
    { id: "areas-line", type: "line", source: "areas", paint: { "line-color": area, "line-width": 2.5 } },
    { id: "mine_sites-fill", type: "fill", source: "mine_sites", "source-layer": "mine_sites", filter: POLYGONS, paint: { ...fill, "fill-color": status, "fill-opacity": 0.5 } },
    { id: "mine_sites-line", type: "line", source: "mine_sites", "source-layer": "mine_sites", filter: POLYGONS, paint: { "line-color": perFeature("#263238"), "line-width": 1 } },
    { id: "mine_sites-circle", type: "circle", source: "mine_sites", "source-layer": "mine_sites", filter: POINTS, paint: { "circle-color": status, "circle-radius": 7, "circle-stroke-color": "#ffffff", "circle-stroke-width": 2 } },
  ];
}

function style(config: ConsoleConfig, areas: Area[]): StyleSpecification {
  const sources: StyleSpecification["sources"] = {
    areas: {
      type: "geojson",
      data: {
        type: "FeatureCollection",
        features: areas.map((a) => ({
          type: "Feature",
          id: undefined,
          properties: { id: a.id, code: a.code, name: a.name, grade: a.grade },
          geometry: a.geometry as unknown as GeoJSON.Geometry,
        })),
      },
    },
  };
  for (const layer of config.layers) {
    const path = config.tileUrlTemplate.replace("{layer}", layer);
    sources[layer] = { type: "vector", tiles: [`${location.origin}${path}`], minzoom: 0, maxzoom: 16 };
  }
  const layers: LayerSpecification[] = [BACKGROUND];
  if (config.basemap) {
    sources.basemap = {
      type: "raster",
      tiles: [config.basemap.urlTemplate],
      tileSize: 256,
      maxzoom: config.basemap.maxZoom ?? 18,
      attribution: config.basemap.attribution ?? "",
    };
    layers.push({ id: "basemap", type: "raster", source: "basemap" });
  }
  return { version: 8, sources, layers: [...layers, ...referenceLayers()] };
}

function legend(map: MapLibre): HTMLElement {
  const groups = GROUPS.map((g) => {
    const id = `toggle-${g.key}`;
    const box = h("input", { type: "checkbox", id, checked: true, "data-group": g.key });
    box.addEventListener("change", () => {
      for (const layer of g.layers) map.setLayoutProperty(layer, "visibility", box.checked ? "visible" : "none");
    });
    const items = g.swatches.length > 1
      ? h("ul", { class: "swatches" }, ...g.swatches.map((s) =>
          h("li", {}, h("span", { class: "swatch", "data-color": s.color }), tr(s.word))))
      : null;
    const single = g.swatches.length === 1 ? h("span", { class: "swatch", "data-color": g.swatches[0]!.color }) : null;
    return h("li", { class: "legend-group" }, h("label", { for: id }, box, single, t(g.word)), items);
  });
  const panel = h("section", { class: "legend", "aria-labelledby": "legend-title" },
    h("h2", { id: "legend-title" }, t("legend")), h("ul", {}, ...groups));
  // colours go through the CSS object model: the page's policy allows no inline style attributes
  panel.querySelectorAll<HTMLElement>(".swatch").forEach((s) => { s.style.background = s.dataset.color ?? ""; });
  return panel;
}

function formatValue(key: string, value: unknown): string {
  if (value === null || value === undefined || value === "") return "—";
  if (key === "land_class") return tr(`lc_${value}`);
  if (key === "zone_kind") return tr(`zk_${value}`);
  if (key === "status") return tr(`ms_${value}`);
  if (key === "site_kind") return tr(`sk_${value}`);
  if (key.endsWith("area_m2") && typeof value === "number") return value.toLocaleString(undefined, { maximumFractionDigits: 1 });
  return String(value);
}

function attributeTable(properties: Record<string, unknown>): HTMLElement {
  const rows = Object.entries(properties).map(([k, v]) =>
    h("tr", {}, h("th", { scope: "row" }, tr(`at_${k}`)), h("td", {}, formatValue(k, v))));
  return h("table", { class: "attributes" }, h("tbody", {}, ...rows));
}

function groupOf(layerId: string): Group | undefined {
  return GROUPS.find((g) => g.layers.includes(layerId));
}

function coordinates(lon: number, lat: number): HTMLElement {
  const [gLon, gLat] = wgs84ToGcj02(lon, lat);
  const gcj = h("p", { class: "gcj02", hidden: true }, `${t("gcj02")}: ${gLon.toFixed(6)}, ${gLat.toFixed(6)}`);
  const toggle = h("button", { type: "button", class: "link", "aria-expanded": "false" }, t("showGcj02"));
  toggle.addEventListener("click", () => {
    gcj.hidden = !gcj.hidden;
    toggle.textContent = gcj.hidden ? t("showGcj02") : t("hideGcj02");
    toggle.setAttribute("aria-expanded", String(!gcj.hidden));
  });
  return h("div", { class: "coords" },
    h("h3", {}, t("coordinates")),
    h("p", {}, `${t("wgs84")}: ${lon.toFixed(6)}, ${lat.toFixed(6)}`), gcj, toggle);
}

async function showPoint(panel: HTMLElement, lon: number, lat: number, features: MapGeoJSONFeature[]): Promise<void> {
  const seen = new Set<string>();
  const blocks = features.filter((f) => {
    const key = `${f.layer.id.split("-")[0]}:${f.properties?.id ?? JSON.stringify(f.properties)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  }).map((f) => {
    const group = groupOf(f.layer.id);
    return h("section", { class: "feature", "data-layer": group?.key ?? f.layer.id },
      h("h3", {}, group ? t(group.word) : f.layer.id), attributeTable(f.properties ?? {}));
  });
  const close = h("button", { type: "button", class: "close", "aria-label": t("close") }, "×");
  close.addEventListener("click", () => { panel.hidden = true; panel.replaceChildren(); });
  const check = h("div", { class: "check", "aria-busy": "true" }, h("p", {}, t("checking")));
  panel.replaceChildren(
    h("header", {}, h("h2", { id: "feature-title", tabindex: "-1" }, t("featureTitle")), close),
    ...(blocks.length ? blocks : [h("p", {}, t("noFeatureAtPoint"))]),
    coordinates(lon, lat),
    h("h3", {}, t("locationCheck")), check);
  panel.hidden = false;
  panel.querySelector<HTMLElement>("#feature-title")?.focus();
  try {
    const result = await api<CheckResult>("POST", "/geofence/check", { lon, lat, accuracyM: 5 });
    check.replaceChildren(locationHits(result.features));
  } catch (err) {
    check.replaceChildren(h("p", { class: "error", role: "alert" }, (err as Error).message));
  } finally {
    check.removeAttribute("aria-busy");
  }
}

export interface MapData {
  config: ConsoleConfig;
  areas: Area[];
}

/** The map page. The map (its WebGL context, then MapLibre's worker) is made at once, while
 * ``data`` (the console's configuration and the areas) is on its way, and shows the county's
 * layers when it comes. */
export async function mapPage(main: HTMLElement, data: Promise<MapData>): Promise<void> {
  useOwnWorker();
  const container = h("div", { id: "map", role: "application", "aria-label": t("map") });
  const panel = h("aside", { id: "feature-panel", class: "panel", hidden: true, "aria-live": "polite", "aria-labelledby": "feature-title" });
  const side = h("div", { class: "side" }, h("p", { class: "loading", role: "status" }, t("loading")));
  const page = h("div", { class: "map-page" }, container, side, panel);
  main.replaceChildren(page);
  const map = new MapLibre({
    container,
    style: { version: 8, sources: {}, layers: [BACKGROUND] },
    center: [112.9, 28.2],
    zoom: 6,
    attributionControl: false,
    transformRequest: (url) => (url.startsWith(`${location.origin}/api/`) ? { url, headers: authHeaders() } : { url }),
  });
  keepWorker();
  onLeave(() => map.remove());
  const { config, areas } = await data;
  if (!main.isConnected) return;  // another page was opened meanwhile
  // the view first, then the layers: the first tiles asked for are those of the areas' view
  const fit = boxOf(areas.map((a) => a.geometry));
  if (fit) map.fitBounds(fit, { padding: 40, animate: false });
  map.setStyle(style(config, areas), { diff: false });
  if (config.basemap?.attribution) map.addControl(new AttributionControl({ compact: true }));
  map.addControl(new NavigationControl({ showCompass: false }), "top-left");
  map.addControl(new ScaleControl({ unit: "metric" }), "bottom-left");
  const centre = h("button", { type: "button", id: "check-centre" }, t("checkCenter"));
  const note = config.basemap ? null : h("p", { class: "note" }, t("noBasemap"));
  const tool = overlayTool(map, page);
  side.replaceChildren(tool.element, legend(map), centre, note ?? "");
  map.on("click", (e) => {
    if (tool.drawing()) return;  // a corner of the area being drawn
    const features = map.queryRenderedFeatures(e.point);
    void showPoint(panel, e.lngLat.lng, e.lngLat.lat, features);
  });
  centre.addEventListener("click", () => {
    const c = map.getCenter();
    const point = map.project(c);
    void showPoint(panel, c.lng, c.lat, map.queryRenderedFeatures(point));
  });
  // for people and programs that look at the page (the browser test reads it)
  (window as unknown as { patrolMap: MapLibre }).patrolMap = map;
}
