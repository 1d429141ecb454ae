// A boundary from GeoJSON text (a file or pasted): read and checked before anything is sent,
// so that what is wrong is said in words the user can act on; what the page cannot check (a
// ring that crosses itself) is the API's to refuse.
import { type Word, fill, t } from "./i18n";

const POLYGONAL = ["Polygon", "MultiPolygon"];
const WGS84_NAMES = /^(urn:ogc:def:crs:OGC:1\.3:CRS84|urn:ogc:def:crs:EPSG::4326|EPSG:4326|CRS84)$/i;

/** The boundary in ``text`` (a GeoJSON geometry, a Feature or a FeatureCollection of one
 * feature), or what is wrong with it, in words the user can act on; ``oneFeature`` says why a
 * collection of several features is refused. */
export function readBoundary(
  text: string,
  oneFeature: Word = "rg_oneFeature",
): { geometry: Record<string, unknown> } | { problem: string } {
  if (!text.trim()) return { problem: t("rg_noBoundary") };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { problem: fill("rg_notJson", { why: (err as Error).message }) };
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return { problem: t("rg_notGeoJson") };
  const obj = doc as Record<string, unknown>;
  const crs = (obj["crs"] as { properties?: { name?: unknown } } | undefined)?.properties?.name;
  if (typeof crs === "string" && !WGS84_NAMES.test(crs)) return { problem: fill("rg_notWgs84", { crs }) };
  let geometry: unknown = obj;
  if (obj["type"] === "FeatureCollection") {
    const features = Array.isArray(obj["features"]) ? (obj["features"] as unknown[]) : [];
    if (features.length !== 1) return { problem: fill(oneFeature, { n: features.length }) };
    geometry = (features[0] as Record<string, unknown> | null)?.["geometry"];
  } else if (obj["type"] === "Feature") {
    geometry = obj["geometry"];
  }
  if (typeof geometry !== "object" || geometry === null) return { problem: t("rg_noGeometry") };
  const type = (geometry as Record<string, unknown>)["type"];
  if (!POLYGONAL.includes(String(type))) return { problem: fill("rg_notPolygon", { type: String(type ?? "?") }) };
  return { geometry: geometry as Record<string, unknown> };
}
