// The alerts feed (ListAlerts) with acknowledgement (AcknowledgeAlert): kind, severity, time
// and message of the open alerts, newest first; unacknowledged ones unless asked for all.
import { type Schemas, api } from "./api";
import { h } from "./dom";
import { t, tr } from "./i18n";
import { failure, loading, localMinute } from "./view";

type Alert = Schemas["Alert"];
type Kind = Schemas["AlertKindName"];

export const KINDS: Kind[] = [
  "site_reopening", "site_active_mining", "duty_overdue", "site_rebound_review",
  "referral_suggested", "petition_overdue", "tip_off_overdue", "case_step_overdue", "report_overdue",
];

interface Filter {
  kind: Kind | "";
  withAcknowledged: boolean;
}

function row(a: Alert, acknowledge: (a: Alert, button: HTMLButtonElement) => void): HTMLElement {
  const action = a.acknowledgedAt
    ? h("span", { class: "muted" }, `${t("acknowledged")} ${localMinute(a.acknowledgedAt)}`)
    : (() => {
        const b = h("button", { type: "button", class: "ack", "aria-label": `${t("acknowledge")}：${a.message}` }, t("acknowledge"));
        b.addEventListener("click", () => acknowledge(a, b));
        return b;
      })();
  return h("tr", { "data-alert-id": a.id, "data-kind": a.kind },
    h("td", { "data-col": "kind" }, tr(`ak_${a.kind}`)),
    h("td", { "data-col": "severity" }, h("span", { class: `sev sev-${a.severity}` }, tr(`sev_${a.severity}`))),
    h("td", { "data-col": "raisedAt", class: "nowrap" }, localMinute(a.raisedAt)),
    h("td", { "data-col": "message" }, a.message),
    h("td", { "data-col": "status" }, action));
}

export async function alertsPage(main: HTMLElement, filter: Filter = { kind: "", withAcknowledged: false }): Promise<void> {
  const kindSelect = h("select", { id: "alert-kind" },
    h("option", { value: "" }, t("allKinds")),
    ...KINDS.map((k) => h("option", { value: k, selected: k === filter.kind }, tr(`ak_${k}`))));
  const all = h("input", { type: "checkbox", id: "alert-all", checked: filter.withAcknowledged });
  const status = h("p", { class: "error", id: "alert-error", role: "alert" });
  const list = h("div", { id: "alert-list", "aria-live": "polite" }, loading());
  const reload = (): void => {
    void alertsPage(main, { kind: kindSelect.value as Kind | "", withAcknowledged: all.checked });
  };
  kindSelect.addEventListener("change", reload);
  all.addEventListener("change", reload);
  main.replaceChildren(h("div", { class: "review-page alerts-page" },
    h("div", { class: "toolbar" }, h("h1", {}, t("alerts")),
      h("label", { for: "alert-kind" }, t("kind")), kindSelect,
      h("label", { for: "alert-all", class: "check" }, all, t("showAcknowledged"))),
    status, list));
  const query = new URLSearchParams({ state: "open", limit: "200" });
  if (!filter.withAcknowledged) query.set("unacknowledged_only", "true");
  if (filter.kind) query.set("kind", filter.kind);
  let alerts: Alert[];
  try {
    alerts = await api<Alert[]>("GET", `/alerts?${query.toString()}`);
  } catch (err) {
    list.replaceChildren(failure(err, reload));
    return;
  }
  const body = h("tbody");
  const empty = h("p", { class: "muted", id: "alert-empty", hidden: alerts.length > 0 }, t("noAlerts"));
  const table = h("table", { class: "grid", id: "alert-table", hidden: alerts.length === 0 },
    h("thead", {}, h("tr", {},
      ...(["kind", "severity", "raisedAt", "message", "status"] as const).map((w) => h("th", { scope: "col" }, t(w))))),
    body);
  const acknowledge = (a: Alert, button: HTMLButtonElement): void => {
    button.disabled = true;
    status.textContent = "";
    api<Alert>("POST", `/alerts/${a.id}/acknowledge`)
      .then((done) => {
        const old = body.querySelector(`tr[data-alert-id="${a.id}"]`);
        if (!all.checked) old?.remove();
        else old?.replaceWith(row(done, acknowledge));
        if (body.children.length === 0) {
          table.hidden = true;
          empty.hidden = false;
        }
      })
      .catch((err: unknown) => {
        button.disabled = false;
        status.textContent = `${t("loadFailed")}：${err instanceof Error ? err.message : String(err)}。${t("whatToDo")}`;
      });
  };
  body.append(...alerts.map((a) => row(a, acknowledge)));
  list.replaceChildren(table, empty);
}
