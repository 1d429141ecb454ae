// Devices (设备, the admin's): the county's registered phones (ListDevices: an admin sees every
// device token of the county) with their user, when each was issued, last used and expires,
// and a lost or handed-on phone's token revoked after a confirmation (RevokeDevice: its next
// request is refused).
import { type Schemas, api } from "./api";
import { h } from "./dom";
import { fill, t, tr } from "./i18n";
import { confirmInPlace, table } from "./forms";
import { failure, localMinute } from "./view";

type Device = Schemas["Device"];
type User = Schemas["User"];

function state(d: Device, now: number): "revoked" | "expired" | "valid" {
  if (d.revoked) return "revoked";
  return Date.parse(d.expiresAt) <= now ? "expired" : "valid";
}

function deviceRow(d: Device, owner: User | undefined, revoked: (d: Device) => void): HTMLElement {
  const s = state(d, Date.now());
  const who = owner ? `${owner.displayName}（${owner.username}）` : d.userId;
  let action: HTMLElement = h("span", { class: "muted" }, "—");
  if (s === "valid") {
    const revoke = h("button", { type: "button", class: "danger", "aria-label": `${t("dv_revoke")}：${d.name}` }, t("dv_revoke"));
    confirmInPlace(revoke, fill("dv_revokeQuestion", { name: d.name, who }), t("dv_revokeConfirm"), async () => {
      revoked(await api<Device>("DELETE", `/auth/devices/${d.id}`));
    });
    action = revoke;
  }
  return h("tr", { "data-device-id": d.id, "data-state": s, class: s === "valid" ? undefined : "inactive" },
    h("td", { "data-col": "name" }, d.name),
    h("td", { "data-col": "user" }, who),
    h("td", { "data-col": "issuedAt", class: "nowrap" }, localMinute(d.issuedAt)),
    h("td", { "data-col": "lastUsedAt", class: "nowrap" }, d.lastUsedAt ? localMinute(d.lastUsedAt) : t("dv_neverUsed")),
    h("td", { "data-col": "expiresAt", class: "nowrap" }, localMinute(d.expiresAt)),
    h("td", { "data-col": "state", class: s === "valid" ? "ok" : "off" }, tr(`dv_${s}`)),
    h("td", { "data-col": "action" }, action));
}

export async function devicesPage(main: HTMLElement): Promise<void> {
  const [devices, users] = await Promise.all([
    api<Device[]>("GET", "/auth/devices"), api<User[]>("GET", "/admin/users"),
  ]);
  const byId = new Map(users.map((u) => [u.id, u]));
  const list = h("div", { id: "dv-list" });
  const notice = h("p", { id: "dv-status", class: "form-status", "aria-live": "polite" });
  const showAll = h("input", { type: "checkbox", id: "dv-show-revoked" });
  let rows = devices;
  const draw = (): void => {
    const shown = [...rows]
      .filter((d) => showAll.checked || state(d, Date.now()) === "valid")
      .sort((a, b) => b.issuedAt.localeCompare(a.issuedAt));
    list.replaceChildren(shown.length
      ? table("dv-table", ["dv_name", "dv_user", "dv_issuedAt", "dv_lastUsedAt", "dv_expiresAt", "status", "us_actions"],
        shown.map((d) => deviceRow(d, byId.get(d.userId), (done) => {
          notice.className = "form-status ok";
          notice.textContent = fill("dv_revoked_done", { name: done.name });
          void reload();
        })), fill("dv_count", { n: shown.length }))
      : h("p", { class: "muted", id: "dv-empty" }, t("dv_none")));
  };
  const reload = async (): Promise<void> => {
    try {
      rows = await api<Device[]>("GET", "/auth/devices");
    } catch (err) {
      list.replaceChildren(failure(err, () => void reload()));
      return;
    }
    draw();
  };
  showAll.addEventListener("change", draw);
  main.replaceChildren(h("div", { class: "review-page admin-page devices-page" },
    h("div", { class: "toolbar" }, h("h1", {}, t("devices")),
      h("label", { for: "dv-show-revoked", class: "check" }, showAll, t("dv_showRevoked"))),
    h("p", { class: "hint" }, t("dv_about")),
    notice, list));
  draw();
}
