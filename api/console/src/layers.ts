// Layer import (图层导入, the admin's): the versions of each reference layer
// (ListLayerVersions, the highest of a kind is current) and a file imported as a new version
// (ImportLayer: GeoJSON, zipped Shapefile, GeoPackage or zipped File Geodatabase, with its
// options). A small file is imported within the request and its result shown at once; a large
// one becomes a background job whose progress (GetImportJob: features read of the file's
// total) is drawn as a progress bar until it is done — the new version then in the list — or
// has failed, with the reason.
import { type Schemas, api, apiForm } from "./api";
import { h } from "./dom";
import { fill, t, tr } from "./i18n";
import { field, fileSize, message, options, say, statusLine, table } from "./forms";
import { failure, loading, localMinute, onLeave } from "./view";

type Version = Schemas["LayerVersion"];
type Job = Schemas["ImportJob"];
type Summary = Schemas["ImportSummary"];
type Issue = Schemas["FeatureIssue"];

export const KINDS = ["parcels", "planning_zones", "mine_sites", "change_polygons"] as const;
const PRESETS = ["land_survey"] as const;
const POLL_MS = 1000;
const SHOWN_ISSUES = 20;

function versionsTable(kind: string, versions: Version[]): HTMLElement {
  const mine = versions.filter((v) => v.kind === kind).sort((a, b) => b.versionNo - a.versionNo);
  const current = mine[0]?.versionNo;
  return h("section", { class: "card ly-kind", "data-kind": kind, "aria-labelledby": `ly-kind-${kind}` },
    h("h3", { id: `ly-kind-${kind}` }, tr(kind)),
    mine.length === 0
      ? h("p", { class: "muted" }, t("ly_noVersions"))
      : table(`ly-versions-${kind}`,
        ["ly_version", "ly_file", "ly_format", "ly_crs", "ly_read", "ly_stored", "ly_repaired", "ly_rejected", "ly_importedAt"],
        mine.map((v) => h("tr", { "data-version-id": v.id, "data-version-no": String(v.versionNo), class: v.versionNo === current ? "current" : undefined },
          h("td", { "data-col": "version" }, `v${v.versionNo}`, v.versionNo === current ? h("span", { class: "badge" }, t("ly_current")) : null),
          h("td", { "data-col": "file" }, v.sourceName),
          h("td", { "data-col": "format" }, v.sourceFormat),
          h("td", { "data-col": "crs" }, v.sourceCrs),
          h("td", { class: "num", "data-col": "read" }, v.read.toLocaleString()),
          h("td", { class: "num", "data-col": "stored" }, v.stored.toLocaleString()),
          h("td", { class: "num", "data-col": "repaired" }, v.repaired.toLocaleString()),
          h("td", { class: "num", "data-col": "rejected" }, v.rejected.toLocaleString()),
          h("td", { class: "nowrap", "data-col": "createdAt" }, localMinute(v.createdAt))))));
}

function issues(title: string, items: Issue[], id: string): HTMLElement | null {
  if (items.length === 0) return null;
  return h("details", { id },
    h("summary", {}, fill("ly_issues", { what: title, n: items.length })),
    h("ul", { class: "issues" }, ...items.slice(0, SHOWN_ISSUES).map((i) =>
      h("li", {}, fill("ly_feature", { n: i.feature }), "：", i.reason))),
    items.length > SHOWN_ISSUES ? h("p", { class: "muted" }, fill("ly_moreIssues", { n: items.length - SHOWN_ISSUES })) : null);
}

/** What an import did (or, a dry run, would do). */
function summary(s: Summary): HTMLElement {
  const head = s.dryRun
    ? t("ly_dryRunDone")
    : fill("ly_imported", { kind: tr(s.kind), v: s.versionNo });
  return h("div", { id: "ly-result", class: "ly-result" },
    h("p", { class: "form-status ok" }, head),
    h("p", {}, fill("ly_counts", { read: s.read, stored: s.stored, repaired: s.repaired, rejected: s.rejected }),
      ` · ${s.sourceFormat} · ${s.sourceCrs}`, s.encoding ? ` · ${s.encoding}` : "", s.sourceLayer ? ` · ${t("ly_layer")} ${s.sourceLayer}` : ""),
    ...(s.warnings ?? []).map((w) => h("p", { class: "warning" }, w.detail)),
    issues(t("ly_rejections"), s.rejections, "ly-rejections"),
    issues(t("ly_repairs"), s.repairs, "ly-repairs"));
}

/** The progress of a background import: a bar of features read of the file's total (a bar
 * without a value while the job waits for a worker), and the counts in words. */
function progress(job: Job): HTMLElement {
  const bar = h("progress", { id: "ly-progress", "aria-labelledby": "ly-progress-label", "aria-describedby": "ly-progress-text" });
  let text: string;
  if (job.state === "queued") {
    text = t("ly_queued");  // no value: the bar shows it is waiting
  } else {
    const total = job.total ?? null;
    if (total !== null && total > 0) {
      bar.max = total;
      bar.value = Math.min(job.read, total);
      text = fill("ly_readOf", { read: job.read, total, pct: Math.floor((Math.min(job.read, total) / total) * 100) });
    } else if (job.state === "done") {
      bar.max = 1;
      bar.value = 1;
      text = fill("ly_readAll", { read: job.read });
    } else {
      text = fill("ly_readSoFar", { read: job.read });
    }
  }
  bar.textContent = text;  // what a browser without <progress> shows
  return h("div", { class: "ly-progress", id: "ly-job", "data-job-id": job.id, "data-state": job.state },
    h("p", { id: "ly-progress-label" }, fill("ly_jobFor", { name: job.sourceName, size: fileSize(job.sourceBytes) })),
    bar,
    h("p", { id: "ly-progress-text" }, text),
    h("p", { id: "ly-job-state", class: `job-state js-${job.state}`, "aria-live": "polite" }, tr(`lj_${job.state}`)),
    job.state !== "done" && job.rejected > 0 ? h("p", { class: "muted" }, fill("ly_rejectedSoFar", { n: job.rejected })) : null);
}

function importForm(result: HTMLElement, imported: () => void): HTMLElement {
  const file = h("input", { id: "ly-file", type: "file", required: true, accept: ".geojson,.json,.zip,.gpkg" });
  const kind = h("select", { id: "ly-kind", required: true }, ...options(KINDS, "", "parcels"));
  const crs = h("input", { id: "ly-crs", maxlength: "200", placeholder: "EPSG:4527 / gcj02" });
  const preset = h("select", { id: "ly-preset" }, h("option", { value: "" }, t("ly_noPreset")), ...options(PRESETS, "lp_"));
  const fieldMap = h("input", { id: "ly-field-map", maxlength: "1000", placeholder: "source_code=DLBM,source_name=DLMC" });
  const layer = h("input", { id: "ly-layer", maxlength: "200" });
  const encoding = h("input", { id: "ly-encoding", maxlength: "40", placeholder: "gbk / utf-8" });
  const dryRun = h("input", { id: "ly-dry-run", type: "checkbox" });
  const submit = h("button", { type: "submit" }, t("ly_import"));
  const status = statusLine("ly-status");
  const form = h("form", { id: "ly-form", class: "card adm-form", "aria-labelledby": "ly-form-title" },
    h("h2", { id: "ly-form-title" }, t("ly_importTitle")),
    field("ly-file", "ly_fileField", file, t("ly_fileHint")),
    field("ly-kind", "ly_kind", kind),
    h("details", { class: "ly-options" }, h("summary", {}, t("ly_options")),
      field("ly-crs", "ly_crsField", crs, t("ly_crsHint")),
      field("ly-preset", "ly_preset", preset),
      field("ly-field-map", "ly_fieldMap", fieldMap, t("ly_fieldMapHint")),
      field("ly-layer", "ly_layerField", layer, t("ly_layerHint")),
      field("ly-encoding", "ly_encoding", encoding, t("ly_encodingHint"))),
    h("label", { for: "ly-dry-run", class: "check" }, dryRun, t("ly_dryRun")),
    h("div", { class: "buttons" }, submit), status);

  let timer = 0;
  const stop = (): void => window.clearTimeout(timer);
  onLeave(stop);
  const follow = (job: Job): void => {
    result.replaceChildren(progress(job));
    if (job.state === "done") {
      if (job.result) result.append(summary(job.result));
      submit.disabled = false;
      imported();
      return;
    }
    if (job.state === "failed") {
      result.append(h("p", { class: "form-status error", role: "alert" },
        `${t("ly_failed")}：${job.error?.detail ?? ""}${job.error ? `（${job.error.code}）` : ""}`));
      submit.disabled = false;
      return;
    }
    timer = window.setTimeout(() => {
      api<Job>("GET", `/geofence/layers/import-jobs/${job.id}`).then(follow).catch((err: unknown) => {
        // a lost answer is asked again; the job goes on on the server meanwhile
        say(status, `${t("ly_pollFailed")}：${message(err)}`, "error");
        follow(job);
      });
    }, POLL_MS);
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const chosen = file.files?.[0];
    if (!chosen) return;
    stop();
    const body = new FormData();
    body.set("file", chosen, chosen.name);
    body.set("kind", kind.value);
    for (const [name, input] of [["crs", crs], ["field_map", fieldMap], ["layer", layer], ["encoding", encoding]] as const) {
      if (input.value.trim()) body.set(name, input.value.trim());
    }
    if (preset.value) body.set("preset", preset.value);
    if (dryRun.checked) body.set("dry_run", "true");
    submit.disabled = true;
    result.replaceChildren();
    say(status, fill("ly_uploading", { name: chosen.name, size: fileSize(chosen.size) }));
    apiForm<Summary | Job>("/geofence/layers/import", body).then(({ status: code, body: answer }) => {
      say(status, "");
      if (code === 202) {
        follow(answer as Job);  // a large file: the background job reports its progress
        return;
      }
      submit.disabled = false;
      result.replaceChildren(summary(answer as Summary));
      if (!(answer as Summary).dryRun) imported();
    }).catch((err: unknown) => {
      submit.disabled = false;
      say(status, `${t("ly_failed")}：${message(err)}`, "error");
    });
  });
  return form;
}

export async function layersPage(main: HTMLElement): Promise<void> {
  let versions = await api<Version[]>("GET", "/geofence/layers/versions");
  const list = h("div", { id: "ly-list", class: "ly-list" });
  const draw = (): void => list.replaceChildren(...KINDS.map((k) => versionsTable(k, versions)));
  const reload = async (): Promise<void> => {
    list.replaceChildren(loading());
    try {
      versions = await api<Version[]>("GET", "/geofence/layers/versions");
    } catch (err) {
      list.replaceChildren(failure(err, () => void reload()));
      return;
    }
    draw();
  };
  const result = h("div", { id: "ly-outcome" });
  main.replaceChildren(h("div", { class: "review-page admin-page layers-page" },
    h("div", { class: "toolbar" }, h("h1", {}, t("layers"))),
    h("div", { class: "adm-layout" },
      h("div", { class: "adm-forms" }, importForm(result, () => void reload()), result),
      h("section", { class: "adm-main", "aria-labelledby": "ly-list-title" },
        h("h2", { id: "ly-list-title" }, t("ly_versions")), list))));
  draw();
}
