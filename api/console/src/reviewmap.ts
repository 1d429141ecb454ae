// The map the review pages draw on: the basemap when one is configured, the county's contract
// areas (ListAreas) as GeoJSON, and what the page adds on top.
import {
  type ExpressionSpecification,
  type GeoJSONSource,
  type LayerSpecification,
  Map as MapLibre,
  NavigationControl,
  ScaleControl,
  type SourceSpecification,
  type StyleSpecification,
  prewarm,
  setWorkerUrl,
} from "maplibre-gl";
import type { Area, ConsoleConfig } from "./api";
import { t } from "./i18n";
import { onLeave } from "./view";

export type Geometry = GeoJSON.Geometry;
export type Collection = GeoJSON.FeatureCollection;

export function collection(features: GeoJSON.Feature[]): Collection {
  return { type: "FeatureCollection", features };
}

export function areaFeatures(areas: Area[], props: (a: Area) => Record<string, unknown> = () => ({})): Collection {
  return collection(areas.map((a) => ({
    type: "Feature",
    properties: { id: a.id, code: a.code, name: a.name, ...props(a) },
    geometry: a.geometry as unknown as Geometry,
  })));
}

function extend(box: [number, number, number, number], c: unknown): void {
  if (Array.isArray(c) && typeof c[0] === "number") {
    box[0] = Math.min(box[0], c[0]); box[2] = Math.max(box[2], c[0]);
    box[1] = Math.min(box[1], c[1] as number); box[3] = Math.max(box[3], c[1] as number);
  } else if (Array.isArray(c)) for (const x of c) extend(box, x);
}

/** The box around the coordinates of ``geometries``, or null when there are none. */
export function boxOf(geometries: unknown[]): [[number, number], [number, number]] | null {
  const box: [number, number, number, number] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const g of geometries) extend(box, (g as { coordinates?: unknown }).coordinates);
  return box[0] <= box[2] ? [[box[0], box[1]], [box[2], box[3]]] : null;
}

/** ``color`` for every feature, written as a per-feature expression.
 *
 * MapLibre compiles a shader program for each layer type and each way its paint is given (one
 * value, or one per feature) when a layer of that kind is first drawn, and software WebGL
 * compiles each again for the states it is drawn with; a frame that compiled waited 0.1-0.4 s
 * on the map page's first load. So the map page colours every fill and line per feature (a
 * single colour too, by this) and its fills draw no outline of their own (their line layer
 * does): its layers share one fill and one line program (7 programs in all, 13 before), which
 * the contract areas, drawn first, compile before the parcels' tiles are drawn. */
export function perFeature(color: string): ExpressionSpecification {
  return ["match", ["geometry-type"], "Point", color, color];
}

let workerSet = false;

/** MapLibre's worker from this server (the policy allows no blob: script). Call before the
 * first map is made; the map starts the worker itself, after its WebGL context: a worker
 * started before it waited for the page's main thread, which making the context holds. */
export function useOwnWorker(): void {
  if (workerSet) return;
  workerSet = true;
  const url = document.querySelector<HTMLMetaElement>('meta[name="maplibre-worker"]')?.content;
  if (url) setWorkerUrl(new URL(url, location.href).href);
}

/** The worker stays when a page's map is removed, for the next page's map. */
export function keepWorker(): void {
  prewarm();
}

export interface ReviewMap {
  map: MapLibre;
  ready: Promise<void>;
  setData(source: string, data: Collection): void;
}

/** A map in ``container`` with the areas and the page's sources and layers; removed when the
 * page is left. */
export function reviewMap(
  container: HTMLElement,
  config: ConsoleConfig,
  areas: Collection,
  sources: Record<string, Collection>,
  layers: LayerSpecification[],
  fit: [[number, number], [number, number]] | null,
): ReviewMap {
  useOwnWorker();
  const all: Record<string, SourceSpecification> = { areas: { type: "geojson", data: areas } };
  for (const [name, data] of Object.entries(sources)) all[name] = { type: "geojson", data };
  const base: LayerSpecification[] = [{ id: "background", type: "background", paint: { "background-color": "#f4f1ea" } }];
  if (config.basemap) {
    all.basemap = {
      type: "raster",
      tiles: [config.basemap.urlTemplate],
      tileSize: 256,
      maxzoom: config.basemap.maxZoom ?? 18,
      attribution: config.basemap.attribution ?? "",
    };
    base.push({ id: "basemap", type: "raster", source: "basemap" });
  }
  const style: StyleSpecification = { version: 8, sources: all, layers: [...base, ...layers] };
  container.setAttribute("role", "application");
  container.setAttribute("aria-label", t("map"));
  const map = new MapLibre({
    container,
    style,
    center: fit ? [(fit[0][0] + fit[1][0]) / 2, (fit[0][1] + fit[1][1]) / 2] : [112.9, 28.2],
    zoom: fit ? 10 : 6,
    attributionControl: config.basemap?.attribution ? { compact: true } : false,
  });
  if (fit) map.fitBounds(fit, { padding: 30, animate: false });
  map.addControl(new NavigationControl({ showCompass: false }), "top-left");
  map.addControl(new ScaleControl({ unit: "metric" }), "bottom-left");
  // for people and programs that look at the page (the browser tests read it)
  (window as unknown as { patrolMap?: MapLibre }).patrolMap = map;
  onLeave(() => map.remove());
  keepWorker();
  const ready = new Promise<void>((resolve) => map.once("load", () => resolve()));
  return {
    map,
    ready,
    setData(source, data) {
      const apply = (): void => {
        void (map.getSource(source) as GeoJSONSource | undefined)?.setData(data);
      };
      if (map.loaded() || map.isStyleLoaded()) apply();
      else void ready.then(apply);
    },
  };
}
