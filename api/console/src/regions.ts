// Townships and villages (乡镇与村, the admin's): each township (ListTownships) with its
// villages under it (ListVillages), new ones with their boundary (CreateTownship,
// CreateVillage) from a GeoJSON file or pasted text, a name, kind or boundary changed
// (UpdateTownship, UpdateVillage), and all of them on a small map. A boundary the page cannot
// read is explained before anything is sent; one the API refuses shows the API's reason.
import { type Schemas, api } from "./api";
import { readBoundary } from "./boundary";
import { h } from "./dom";
import { fill, t, tr } from "./i18n";
import { field, fileSize, onSubmit, options, statusLine } from "./forms";
import { failure } from "./view";

type Township = Schemas["Township"];
type Village = Schemas["Village"];
type ConsoleConfig = Schemas["ConsoleConfig"];

export const KINDS = ["township", "town", "subdistrict", "park"] as const;
/** A file input and a text area for a boundary: a chosen file is read into the text area. */
function boundaryInput(prefix: string, required: boolean): { box: HTMLElement; text: HTMLTextAreaElement; clear: () => void } {
  const file = h("input", { id: `${prefix}-file`, type: "file", accept: ".geojson,.json,application/geo+json,application/json" });
  const text = h("textarea", { id: `${prefix}-geojson`, rows: "4", spellcheck: "false", required });
  const note = h("p", { class: "hint", id: `${prefix}-file-note`, "aria-live": "polite" });
  file.addEventListener("change", () => {
    const chosen = file.files?.[0];
    if (!chosen) return;
    chosen.text().then((content) => {
      text.value = content;
      note.textContent = fill("rg_fileRead", { name: chosen.name, size: fileSize(chosen.size) });
    }).catch((err: unknown) => {
      note.textContent = `${t("rg_fileUnreadable")}：${(err as Error).message}`;
    });
  });
  return {
    box: h("fieldset", { class: "boundary" }, h("legend", {}, t(required ? "rg_boundary" : "rg_newBoundary")),
      field(`${prefix}-file`, "rg_boundaryFile", file), note,
      field(`${prefix}-geojson`, "rg_boundaryText", text, t("rg_boundaryHint"))),
    text,
    clear: () => {
      note.textContent = "";
    },
  };
}

/** The boundary to send, or an error (thrown: the form shows it) when it cannot be read. */
function boundary(text: HTMLTextAreaElement): Record<string, unknown> {
  const read = readBoundary(text.value);
  if ("problem" in read) throw new Error(read.problem);
  return read.geometry;
}

function townshipForm(done: (tw: Township) => void): HTMLElement {
  const code = h("input", { id: "rg-tw-code", required: true, maxlength: "15", pattern: "[0-9A-Za-z_\\-]+" });
  const name = h("input", { id: "rg-tw-name", required: true, maxlength: "100" });
  const kind = h("select", { id: "rg-tw-kind" }, ...options(KINDS, "rk_", "township"));
  const geo = boundaryInput("rg-tw", true);
  const status = statusLine("rg-tw-status");
  const form = h("form", { id: "rg-township-form", class: "card adm-form", "aria-labelledby": "rg-tw-title" },
    h("h2", { id: "rg-tw-title" }, t("rg_addTownship")),
    field("rg-tw-code", "rg_code", code, t("rg_codeHint")), field("rg-tw-name", "rg_name", name),
    field("rg-tw-kind", "rg_kind", kind), geo.box,
    h("div", { class: "buttons" }, h("button", { type: "submit" }, t("rg_add"))), status);
  onSubmit(form, status, "rg_addFailed", async () => {
    const tw = await api<Township>("POST", "/townships", {
      code: code.value.trim(), name: name.value.trim(), kind: kind.value, geometry: boundary(geo.text),
    });
    form.reset();
    geo.clear();
    done(tw);
    return fill("rg_added", { name: tw.name });
  });
  return form;
}

/** The village form, and a function that gives its township list the townships of now. */
function villageForm(done: (v: Village) => void): { form: HTMLElement; setTownships: (list: Township[]) => void } {
  const township = h("select", { id: "rg-vi-township", required: true });
  const setTownships = (list: Township[]): void => {
    const chosen = township.value;
    township.replaceChildren(h("option", { value: "" }, t("rg_chooseTownship")),
      ...list.map((tw) => h("option", { value: tw.id, selected: tw.id === chosen }, `${tw.name}（${tw.code}）`)));
  };
  const code = h("input", { id: "rg-vi-code", required: true, maxlength: "15", pattern: "[0-9A-Za-z_\\-]+" });
  const name = h("input", { id: "rg-vi-name", required: true, maxlength: "100" });
  const geo = boundaryInput("rg-vi", true);
  const status = statusLine("rg-vi-status");
  const form = h("form", { id: "rg-village-form", class: "card adm-form", "aria-labelledby": "rg-vi-title" },
    h("h2", { id: "rg-vi-title" }, t("rg_addVillage")),
    field("rg-vi-township", "rg_township", township), field("rg-vi-code", "rg_code", code, t("rg_codeHint")),
    field("rg-vi-name", "rg_name", name), geo.box,
    h("div", { class: "buttons" }, h("button", { type: "submit" }, t("rg_add"))), status);
  onSubmit(form, status, "rg_addFailed", async () => {
    const v = await api<Village>("POST", "/villages", {
      townshipId: township.value, code: code.value.trim(), name: name.value.trim(), geometry: boundary(geo.text),
    });
    form.reset();
    geo.clear();
    done(v);
    return fill("rg_added", { name: v.name });
  });
  return { form, setTownships };
}

/** The form that changes a township or a village (its name, a township's kind, the boundary). */
function editForm(item: Township | Village, isTownship: boolean, done: () => void): HTMLElement {
  const name = h("input", { id: "rg-edit-name", required: true, maxlength: "100", value: item.name });
  const kind = isTownship ? h("select", { id: "rg-edit-kind" }, ...options(KINDS, "rk_", (item as Township).kind)) : null;
  const geo = boundaryInput("rg-edit", false);
  const status = statusLine("rg-edit-status");
  const close = h("button", { type: "button", class: "close", "aria-label": t("close") }, "×");
  const form = h("form", { id: "rg-edit", class: "card adm-form adm-panel", "aria-labelledby": "rg-edit-title" },
    h("header", {}, h("h2", { id: "rg-edit-title" }, `${t("rg_change")}：${item.name}（${item.code}）`), close),
    field("rg-edit-name", "rg_name", name), kind ? field("rg-edit-kind", "rg_kind", kind) : null, geo.box,
    h("div", { class: "buttons" }, h("button", { type: "submit" }, t("rg_save"))), status);
  close.addEventListener("click", () => form.remove());
  onSubmit(form, status, "rg_saveFailed", async () => {
    const body: Record<string, unknown> = { name: name.value.trim() };
    if (kind) body["kind"] = kind.value;
    if (geo.text.value.trim()) body["geometry"] = boundary(geo.text);
    await api("PATCH", `${isTownship ? "/townships" : "/villages"}/${item.id}`, body);
    done();
    return t("rg_saved");
  });
  return form;
}

function tree(townships: Township[], villages: Village[], edit: (item: Township | Village, isTownship: boolean) => void): HTMLElement {
  if (townships.length === 0) return h("p", { class: "muted", id: "rg-empty" }, t("rg_none"));
  const editButton = (item: Township | Village, isTownship: boolean): HTMLElement => {
    const b = h("button", { type: "button", class: "link", "aria-label": `${t("rg_change")}：${item.name}` }, t("rg_change"));
    b.addEventListener("click", () => edit(item, isTownship));
    return b;
  };
  const rows: HTMLElement[] = [];
  for (const tw of townships) {
    const mine = villages.filter((v) => v.townshipId === tw.id);
    rows.push(h("tr", { class: "township", "data-township-id": tw.id, "data-code": tw.code },
      h("th", { scope: "row", "data-col": "name" }, tw.name),
      h("td", { "data-col": "code" }, tw.code),
      h("td", { "data-col": "kind" }, tr(`rk_${tw.kind}`)),
      h("td", { "data-col": "villages", class: "num" }, String(mine.length)),
      h("td", {}, editButton(tw, true))));
    for (const v of mine) {
      rows.push(h("tr", { class: "village", "data-village-id": v.id, "data-code": v.code, "data-township-id": tw.id },
        h("td", { "data-col": "name", class: "indent" }, `└ ${v.name}`),
        h("td", { "data-col": "code" }, v.code),
        h("td", { "data-col": "kind" }, t("rg_village")),
        h("td", {}, ""),
        h("td", {}, editButton(v, false))));
    }
  }
  return h("table", { class: "grid", id: "rg-table" },
    h("caption", {}, fill("rg_count", { t: townships.length, v: villages.length })),
    h("thead", {}, h("tr", {}, ...(["rg_name", "rg_code", "rg_kind", "rg_villages", "us_actions"] as const)
      .map((w) => h("th", { scope: "col" }, t(w))))),
    h("tbody", {}, ...rows));
}

function features(items: Array<Township | Village>, kind: string): GeoJSON.FeatureCollection {
  return {
    type: "FeatureCollection",
    features: items.map((i) => ({
      type: "Feature", properties: { id: i.id, code: i.code, name: i.name, kind },
      geometry: i.geometry as unknown as GeoJSON.Geometry,
    })),
  };
}

/** The townships and villages on a small map (a chunk with MapLibre, loaded after the lists);
 * the function it gives back draws them again. */
async function drawMap(box: HTMLElement, townships: Township[], villages: Village[]): Promise<(tws: Township[], vis: Village[]) => void> {
  const [{ reviewMap, collection, boxOf }, config] = await Promise.all([
    import("./reviewmap"), api<ConsoleConfig>("GET", "/console/config"),
  ]);
  const fit = boxOf([...townships, ...villages].map((i) => i.geometry));
  const drawn = reviewMap(box, config, collection([]), {
    townships: features(townships, "township"),
    villages: features(villages, "village"),
  }, [
    { id: "townships-fill", type: "fill", source: "townships", paint: { "fill-color": "#4c78a8", "fill-opacity": 0.12 } },
    { id: "townships-line", type: "line", source: "townships", paint: { "line-color": "#1f4e79", "line-width": 2 } },
    { id: "villages-line", type: "line", source: "villages", paint: { "line-color": "#b45f06", "line-width": 1, "line-dasharray": [2, 1] } },
    { id: "townships-label", type: "symbol", source: "townships", layout: { "text-field": ["get", "name"], "text-size": 13 }, paint: { "text-color": "#1f4e79", "text-halo-color": "#fff", "text-halo-width": 1 } },
  ], fit);
  return (tws, vis) => {
    drawn.setData("townships", features(tws, "township"));
    drawn.setData("villages", features(vis, "village"));
  };
}

export async function regionsPage(main: HTMLElement): Promise<void> {
  let townships = await api<Township[]>("GET", "/townships");
  let villages = await api<Village[]>("GET", "/villages");
  const list = h("div", { id: "rg-list" });
  const editing = h("div", { id: "rg-editing" });
  const mapBox = h("div", { class: "map-box rg-map" });
  let redraw: Promise<(tws: Township[], vis: Village[]) => void> | null = null;
  const showMap = (): void => {
    if (townships.length + villages.length === 0) {
      mapBox.replaceChildren(h("p", { class: "muted" }, t("rg_mapEmpty")));
      return;
    }
    if (redraw) {
      void redraw.then((again) => again(townships, villages)).catch(() => undefined);
      return;
    }
    const canvas = h("div", { class: "review-map", id: "rg-map" });
    mapBox.replaceChildren(canvas);
    redraw = drawMap(canvas, townships, villages);
    redraw.catch((err: unknown) => {
      mapBox.replaceChildren(h("p", { class: "error" }, `${t("rg_mapFailed")}：${(err as Error).message}`));
    });
  };
  const village = villageForm(() => void reload());
  const draw = (): void => {
    list.replaceChildren(tree(townships, villages, (item, isTownship) => {
      const form = editForm(item, isTownship, () => void reload());
      editing.replaceChildren(form);
      form.querySelector<HTMLInputElement>("input")?.focus();
    }));
    village.setTownships(townships);
    showMap();
  };
  const reload = async (): Promise<void> => {
    try {
      [townships, villages] = await Promise.all([
        api<Township[]>("GET", "/townships"), api<Village[]>("GET", "/villages"),
      ]);
    } catch (err) {
      list.replaceChildren(failure(err, () => void reload()));
      return;
    }
    draw();
  };
  main.replaceChildren(h("div", { class: "review-page admin-page regions-page" },
    h("div", { class: "toolbar" }, h("h1", {}, t("regions"))),
    h("div", { class: "adm-layout" },
      h("div", { class: "adm-forms" }, townshipForm(() => void reload()), village.form),
      h("section", { class: "adm-main", "aria-labelledby": "rg-list-title" },
        h("h2", { id: "rg-list-title" }, t("rg_list")), editing, list, mapBox))));
  draw();
}
