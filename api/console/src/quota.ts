// A contract area's monthly quota state (met, not met, no quota), shared by the coverage page
// and the overview without the map that the coverage page brings.
import type { Schemas } from "./api";

type AreaCoverage = Schemas["AreaCoverage"];
export type QuotaState = "met" | "not_met" | "no_quota";

export const QUOTA_COLORS: Record<QuotaState, string> = { met: "#2e7d32", not_met: "#c62828", no_quota: "#9e9e9e" };

export function quotaState(a: AreaCoverage): QuotaState {
  const r = a.requirement;
  if (r.minPerMonth === 0 && r.minPerWeek === 0 && r.minNightPerMonth === 0 && r.minNightPerWeek === 0) return "no_quota";
  return a.quotaMet ? "met" : "not_met";
}
