// The land-class breakdown of an area (地类分析) on the map page. A polygon drawn on the map
// (click its corners; double-click or 完成 closes it, Esc cancels; from the keyboard, move the
// map with the arrow keys and add its centre) or read from a GeoJSON file goes to OverlayArea,
// and the answer shows in a sheet over the lower part of the map: the area in m² and mu, a
// chart and a table by land class, the current use, the plan's zones, the mine sites and the
// change polygons it overlaps, and the layer versions used. A refusal (a boundary that crosses
// itself, too many corners, an area outside the county) shows the API's message next to the
// tool. The polygon stays on the map until it is cleared.
import type { GeoJSONSource, LayerSpecification, Map as MapLibre, MapMouseEvent } from "maplibre-gl";
import { type OverlayResult, type Schemas, api } from "./api";
import { readBoundary } from "./boundary";
import { barChart, num } from "./charts";
import { h } from "./dom";
import { type Word, fill, lang, t, tr } from "./i18n";
import { boxOf, perFeature } from "./reviewmap";
import { fixed, onLeave, problemText } from "./view";

type Position = [number, number];
type Polygonal = GeoJSON.Polygon | GeoJSON.MultiPolygon;
type Figure = Schemas["AreaFigure"];

const SOURCE = "overlay";
const COLOR = "#ff6f00";
/** Larger files are refused before they are read (the API takes 200,000 positions at most). */
const MAX_FILE_BYTES = 20 * 1024 * 1024;
/** A click this close (pixels) to the last corner adds none: the second click of a double-click. */
const SAME_CORNER_PX = 4;

const LAYERS: LayerSpecification[] = [
  {
    id: "overlay-fill", type: "fill", source: SOURCE, filter: ["==", ["geometry-type"], "Polygon"],
    paint: { "fill-antialias": false, "fill-color": perFeature(COLOR), "fill-opacity": 0.18 },
  },
  // the outline is drawn from lines of its own: a polygon whose boundary crosses itself (a
  // bow tie) has no area, and MapLibre draws nothing of it, though the user must see it
  {
    id: "overlay-line", type: "line", source: SOURCE, filter: ["==", ["geometry-type"], "LineString"],
    paint: { "line-color": perFeature(COLOR), "line-width": 2.5 },
  },
  {
    id: "overlay-corner", type: "circle", source: SOURCE, filter: ["==", ["geometry-type"], "Point"],
    paint: { "circle-color": perFeature(COLOR), "circle-radius": 4, "circle-stroke-color": "#ffffff", "circle-stroke-width": 1.5 },
  },
];

const USE: Array<[keyof Schemas["CurrentUse"], Word]> = [
  ["farmland", "ov_useFarmland"],
  ["cultivated", "ov_useCultivated"],
  ["permanentBasicFarmland", "ov_usePermanentBasicFarmland"],
  ["construction", "ov_useConstruction"],
  ["constructionApproved", "ov_useConstructionApproved"],
  ["unused", "ov_useUnused"],
];

/** An area as the sheet shows it: m² and mu to two places. */
function area(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : fixed(value, 2);
}

/** A table under a heading that names it (its caption, for screen readers, says the same). */
function grid(id: string, caption: string, head: Word[], rows: HTMLElement[]): HTMLElement {
  return h("div", { class: "table-wrap" }, h("table", { class: "grid", id },
    h("caption", { class: "sr-only" }, caption),
    h("thead", {}, h("tr", {}, ...head.map((w) => h("th", { scope: "col" }, t(w))))),
    h("tbody", {}, ...rows)));
}

function row(key: string, label: string, ...cells: string[]): HTMLElement {
  return h("tr", { "data-key": key }, h("th", { scope: "row" }, label),
    ...cells.map((c) => h("td", { class: "num" }, c)));
}

function figureRow(key: string, label: string, figure: Figure): HTMLElement {
  return row(key, label, area(figure.m2), area(figure.mu));
}

function classSection(result: OverlayResult): HTMLElement[] {
  if (result.landClasses.length === 0) return [h("p", { id: "overlay-no-parcels" }, t("ov_noParcels"))];
  return [h("h3", {}, t("ov_byClass")), grid("overlay-classes", t("ov_byClass"), ["ov_landClass", "ov_m2", "ov_mu", "ov_parcels"],
    result.landClasses.map((c) => row(c.landClass, tr(`lc_${c.landClass}`),
      area(c.areaM2), area(c.areaMu), num(c.parcels))))];
}

function chart(result: OverlayResult): HTMLElement | null {
  if (result.landClasses.length === 0) return null;
  return barChart({
    id: "overlay-chart",
    title: t("ov_chartTitle"),
    categories: result.landClasses.map((c) => ({ key: c.landClass, label: tr(`lc_${c.landClass}`) })),
    series: [{ key: "mu", name: t("ov_mu"), values: result.landClasses.map((c) => c.areaMu) }],
    unit: t("mu"),
    xLabel: t("ov_landClass"),
    yLabel: t("ov_mu"),
  });
}

function planningSection(result: OverlayResult): HTMLElement[] {
  const plan = result.planning;
  if (plan.conforming.m2 === null || plan.conforming.m2 === undefined) {
    return [h("h3", {}, t("ov_planning")), h("p", { id: "overlay-no-planning" }, t("ov_noPlanning"))];
  }
  const zones = plan.zones.length
    ? grid("overlay-zones", t("planning_zones"), ["ov_zone", "ov_m2", "ov_mu"],
      plan.zones.map((z) => figureRow(z.zoneKind, tr(`zk_${z.zoneKind}`), z.area)))
    : h("p", { id: "overlay-no-zones" }, t("ov_noZones"));
  return [
    h("h3", {}, t("ov_planning")),
    grid("overlay-planning", t("ov_planning"), ["ov_part", "ov_m2", "ov_mu"], [
      figureRow("conforming", t("ov_conforming"), plan.conforming),
      figureRow("not_conforming", t("ov_notConforming"), plan.notConforming),
      figureRow("not_conforming_basic_farmland", t("ov_notConformingBasic"), plan.notConformingBasicFarmland),
      figureRow("not_conforming_ecological", t("ov_notConformingEcological"), plan.notConformingEcological),
    ]),
    h("h3", {}, t("planning_zones")),
    zones,
  ];
}

function sitesSection(result: OverlayResult): HTMLElement[] {
  const head = h("h3", {}, t("mine_sites"));
  if (result.mineSites.length === 0) return [head, h("p", { id: "overlay-no-sites" }, t("ov_noSites"))];
  return [head, grid("overlay-sites", t("mine_sites"), ["ov_code", "ov_name", "ov_kind", "ov_status", "ov_overlapM2", "ov_overlapMu"],
    result.mineSites.map((s) => h("tr", { "data-key": s.siteId },
      h("th", { scope: "row" }, s.code), h("td", {}, s.name), h("td", {}, tr(`sk_${s.siteKind}`)),
      h("td", {}, tr(`ms_${s.status}`)), h("td", { class: "num" }, area(s.overlapM2)),
      h("td", { class: "num" }, area(s.overlapMu)))))];
}

function changesSection(result: OverlayResult): HTMLElement[] {
  const head = h("h3", {}, t("change_polygons"));
  if (result.changePolygons.length === 0) return [head, h("p", { id: "overlay-no-changes" }, t("ov_noChanges"))];
  return [head, grid("overlay-changes", t("change_polygons"), ["ov_monitoringNo", "ov_batch", "ov_overlapM2", "ov_overlapMu"],
    result.changePolygons.map((c) => h("tr", { "data-key": c.featureId },
      h("th", { scope: "row" }, c.monitoringNo),
      h("td", {}, fill("ov_batchValue", { year: c.batchYear, q: c.batchQuarter })),
      h("td", { class: "num" }, area(c.overlapM2)), h("td", { class: "num" }, area(c.overlapMu)))))];
}

/** The sheet's content for ``result``. */
function resultView(result: OverlayResult, close: () => void): HTMLElement[] {
  const shut = h("button", { type: "button", class: "close", "aria-label": t("close") }, "×");
  shut.addEventListener("click", close);
  const unmapped = result.unmapped.m2 ? h("p", { id: "overlay-unmapped" },
    fill("ov_unmapped", { m2: area(result.unmapped.m2), mu: area(result.unmapped.mu) })) : null;
  const versions = result.layerVersions.map((v) => fill("ov_version", { layer: t(v.kind as Word), n: v.versionNo }));
  const use = grid("overlay-use", t("ov_use"), ["ov_part", "ov_m2", "ov_mu"],
    USE.map(([key, word]) => figureRow(key, t(word), result.currentUse[key])));
  return [
    h("header", {},
      h("h2", { id: "overlay-result-title", tabindex: "-1" }, t("ov_resultTitle")), shut),
    h("p", { id: "overlay-total", class: "overlay-total" },
      fill("ov_total", { m2: area(result.areaM2), mu: area(result.areaMu) })),
    unmapped,
    h("div", { class: "sheet-body" },
      h("div", { class: "sheet-chart" }, chart(result)),
      h("div", { class: "sheet-tables" },
        ...classSection(result),
        h("h3", {}, t("ov_use")), use,
        ...planningSection(result), ...sitesSection(result), ...changesSection(result))),
    versions.length ? h("p", { class: "muted" }, fill("ov_versions", { list: versions.join(lang() === "en" ? ", " : "、") })) : null,
  ].filter((x): x is HTMLElement => x !== null);
}

function ring(corners: Position[]): Position[] {
  return [...corners, corners[0]!];
}

export interface OverlayTool {
  /** The tool, for the page's side column. */
  element: HTMLElement;
  /** While corners are being drawn, a click on the map is a corner, not a question. */
  drawing(): boolean;
}

/** The tool on ``map``; its result sheet goes into ``page`` (the map page's box). */
export function overlayTool(map: MapLibre, page: HTMLElement): OverlayTool {
  const draw = h("button", { type: "button", id: "overlay-draw" }, t("ov_draw"));
  const file = h("input", { type: "file", id: "overlay-file", accept: ".geojson,.json,application/geo+json,application/json" });
  const clear = h("button", { type: "button", id: "overlay-clear", class: "cancel", disabled: true }, t("ov_clear"));
  const finish = h("button", { type: "button", id: "overlay-finish", disabled: true }, t("ov_finish"));
  const undo = h("button", { type: "button", id: "overlay-undo", class: "cancel", disabled: true }, t("ov_undo"));
  const centre = h("button", { type: "button", id: "overlay-centre", class: "cancel" }, t("ov_addCentre"));
  const cancel = h("button", { type: "button", id: "overlay-cancel", class: "cancel" }, t("ov_cancel"));
  const idleBox = h("div", { class: "overlay-idle" },
    h("div", { class: "buttons" }, draw, clear),
    h("label", { for: "overlay-file" }, t("ov_file")), file);
  const hint = h("p", { id: "overlay-hint", role: "status" });
  const drawBox = h("div", { class: "overlay-drawing", hidden: true },
    hint, h("div", { class: "buttons" }, finish, undo, centre, cancel));
  const status = h("p", { id: "overlay-status", class: "muted", role: "status" });
  const error = h("p", { id: "overlay-error", class: "error", role: "alert" });
  const element = h("section", { class: "overlay-tool", "aria-labelledby": "overlay-title", "aria-describedby": "overlay-intro" },
    h("h2", { id: "overlay-title" }, t("ov_title")),
    h("p", { id: "overlay-intro", class: "muted" }, t("ov_intro")),
    idleBox, drawBox, status, error);
  const sheet = h("aside", { id: "overlay-panel", class: "panel sheet", hidden: true, "aria-labelledby": "overlay-result-title" });
  page.append(sheet);

  let corners: Position[] = [];
  let cursor: Position | null = null;
  let drawing = false;
  let shape: Polygonal | null = null;  // the area on the map, drawn or loaded
  let asked = 0;  // the latest question: an older answer arriving late is dropped

  function source(): GeoJSONSource {
    if (!map.getSource(SOURCE)) {
      map.addSource(SOURCE, { type: "geojson", data: { type: "FeatureCollection", features: [] } });
      for (const layer of LAYERS) map.addLayer(layer);
    }
    return map.getSource(SOURCE) as GeoJSONSource;
  }

  function show(): void {
    const features: GeoJSON.Feature[] = [];
    const put = (geometry: GeoJSON.Geometry): void => { features.push({ type: "Feature", properties: {}, geometry }); };
    if (shape) {
      put(shape);
      const rings = shape.type === "Polygon" ? shape.coordinates : shape.coordinates.flat();
      put({ type: "MultiLineString", coordinates: rings });
    }
    if (drawing) {
      const outline = cursor ? [...corners, cursor] : corners;
      if (outline.length >= 3) put({ type: "Polygon", coordinates: [ring(outline)] });
      if (outline.length >= 2) put({ type: "LineString", coordinates: outline.length >= 3 ? ring(outline) : outline });
      for (const c of corners) put({ type: "Point", coordinates: c });
    }
    void source().setData({ type: "FeatureCollection", features });
  }

  /** The area in view above the sheet and beside the side column (the map zooms out if it
   * must, never in). */
  function inView(): void {
    const box = shape ? boxOf([shape]) : null;
    const canvas = map.getContainer();
    const right = (element.closest(".side")?.clientWidth ?? 0) + 30;
    const bottom = (sheet.hidden ? 0 : sheet.offsetHeight) + 50;
    if (!box || canvas.clientWidth <= right + 100 || canvas.clientHeight <= bottom + 80) return;
    map.fitBounds(box, { padding: { top: 30, left: 60, right, bottom }, maxZoom: map.getZoom(), animate: false });
  }

  function showHint(): void {
    hint.textContent = fill("ov_drawingHint", { n: corners.length });
    finish.disabled = corners.length < 3;
    undo.disabled = corners.length === 0;
  }

  function hideSheet(): void {
    sheet.hidden = true;
    sheet.replaceChildren();
    page.classList.remove("has-sheet");
  }

  function setDrawing(on: boolean): void {
    drawing = on;
    idleBox.hidden = on;
    drawBox.hidden = !on;
    page.classList.toggle("drawing", on);
    if (on) {
      map.doubleClickZoom.disable();
      document.addEventListener("keydown", onKey);
    } else {
      // re-enabled once the double-click that closed the area has been handled
      setTimeout(() => { if (!drawing) map.doubleClickZoom.enable(); }, 0);
      document.removeEventListener("keydown", onKey);
      cursor = null;
    }
  }

  function start(): void {
    corners = [];
    // the area drawn before stays (and its answer, hidden) until the new one is closed
    sheet.hidden = true;
    page.classList.remove("has-sheet");
    error.textContent = "";
    status.textContent = "";
    setDrawing(true);
    showHint();
    show();
    centre.focus();
  }

  function stop(): void {
    setDrawing(false);
    corners = [];
    show();
    clear.disabled = shape === null;
    draw.focus();
  }

  function cancelDrawing(): void {
    status.textContent = t("ov_cancelled");
    stop();
    if (sheet.childElementCount) {  // the answer for the area still on the map
      sheet.hidden = false;
      page.classList.add("has-sheet");
    }
  }

  function add(corner: Position): void {
    corners.push(corner);
    showHint();
    show();
  }

  function close(): void {
    if (corners.length < 3) {
      error.textContent = t("ov_needThree");
      return;
    }
    const polygon: GeoJSON.Polygon = { type: "Polygon", coordinates: [ring(corners)] };
    shape = polygon;
    hideSheet();
    stop();
    void analyse(polygon);
  }

  async function analyse(polygon: Polygonal): Promise<void> {
    const mine = ++asked;
    error.textContent = "";
    status.textContent = t("ov_analysing");
    draw.disabled = true;
    file.disabled = true;
    try {
      const result = await api<OverlayResult>("POST", "/geofence/overlay", { polygon });
      if (mine !== asked) return;
      status.textContent = "";
      sheet.replaceChildren(...resultView(result, () => {
        hideSheet();
        draw.focus();
      }));
      sheet.hidden = false;
      page.classList.add("has-sheet");
      inView();
      sheet.querySelector<HTMLElement>("#overlay-result-title")?.focus();
    } catch (err) {
      if (mine !== asked) return;
      status.textContent = "";
      error.textContent = problemText(err);
    } finally {
      if (mine === asked) {
        draw.disabled = false;
        file.disabled = false;
      }
    }
  }

  function onKey(e: KeyboardEvent): void {
    if (e.key !== "Escape" || !drawing) return;
    e.preventDefault();
    cancelDrawing();
  }

  map.on("click", (e: MapMouseEvent) => {
    if (!drawing) return;
    const last = corners[corners.length - 1];
    if (last && map.project(last).dist(e.point) < SAME_CORNER_PX) return;
    add([e.lngLat.lng, e.lngLat.lat]);
  });
  map.on("dblclick", (e: MapMouseEvent) => {
    if (!drawing) return;
    e.preventDefault();
    close();
  });
  map.on("mousemove", (e: MapMouseEvent) => {
    if (!drawing || corners.length === 0) return;
    cursor = [e.lngLat.lng, e.lngLat.lat];
    show();
  });

  draw.addEventListener("click", start);
  finish.addEventListener("click", close);
  undo.addEventListener("click", () => {
    corners.pop();
    showHint();
    show();
  });
  centre.addEventListener("click", () => {
    const c = map.getCenter();
    add([c.lng, c.lat]);
  });
  cancel.addEventListener("click", cancelDrawing);
  clear.addEventListener("click", () => {
    shape = null;
    asked++;
    hideSheet();
    error.textContent = "";
    status.textContent = "";
    draw.disabled = false;
    file.disabled = false;
    show();
    clear.disabled = true;
    draw.focus();
  });
  file.addEventListener("change", () => {
    const chosen = file.files?.[0];
    if (!chosen) return;
    file.value = "";  // the same file may be chosen again
    error.textContent = "";
    if (chosen.size > MAX_FILE_BYTES) {
      error.textContent = fill("ov_fileTooLarge", { mb: MAX_FILE_BYTES / 1024 / 1024 });
      return;
    }
    chosen.text().then((text) => {
      const read = readBoundary(text, "ov_oneFeature");
      if ("problem" in read) {
        error.textContent = read.problem;
        return;
      }
      const polygon = read.geometry as unknown as Polygonal;
      shape = polygon;
      hideSheet();
      show();
      clear.disabled = false;
      const box = boxOf([polygon]);
      if (box) map.fitBounds(box, { padding: 60, animate: false });  // wherever the map was
      void analyse(polygon);
    }).catch((err: unknown) => {
      error.textContent = `${t("rg_fileUnreadable")}：${(err as Error).message}`;
    });
  });
  onLeave(() => document.removeEventListener("keydown", onKey));
  return { element, drawing: () => drawing };
}
