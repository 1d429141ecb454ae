// Users and roles (用户与角色, the admin's): the county's accounts (ListUsers) with role, phone
// and status; a new account with its role (CreateUser); a chosen account's name, role and
// phone changed (UpdateUser), the account disabled or enabled again (UpdateUser ``active``: a
// disabled user's sessions and device tokens end at once) and a new password set
// (ResetPassword). A refused request shows the API's problem next to its form.
import { type Schemas, api, savedMe } from "./api";
import { h } from "./dom";
import { fill, t, tr } from "./i18n";
import { confirmInPlace, field, onSubmit, options, say, statusLine, table } from "./forms";
import { failure, localMinute } from "./view";

type User = Schemas["User"];

export const ROLES = [
  "inspector", "joint_team", "captain", "security_squad", "clue_desk", "admin", "procuratorate",
] as const;
const PASSWORD_MIN = 10;

function userRow(u: User, open: (id: string, notice: string, focus: boolean) => void, current: string): HTMLElement {
  const edit = h("button", { type: "button", class: "link", "aria-label": `${t("us_edit")}：${u.username}` }, t("us_edit"));
  edit.addEventListener("click", () => open(u.id, "", true));
  return h("tr", {
    "data-user-id": u.id, "data-username": u.username, "data-active": String(u.active),
    class: [u.active ? "" : "inactive", u.id === current ? "current" : ""].join(" ").trim() || undefined,
  },
  h("td", { "data-col": "username" }, u.username),
  h("td", { "data-col": "displayName" }, u.displayName),
  h("td", { "data-col": "role" }, tr(`role_${u.role}`)),
  h("td", { "data-col": "phone" }, u.phone ?? "—"),
  h("td", { "data-col": "status", class: u.active ? "ok" : "off" }, u.active ? t("us_active") : t("us_disabled")),
  h("td", { "data-col": "createdAt", class: "nowrap" }, localMinute(u.createdAt)),
  h("td", {}, edit));
}

function createForm(created: (u: User) => void): HTMLElement {
  const username = h("input", {
    id: "us-username", required: true, minlength: "3", maxlength: "64", pattern: "[a-z0-9_.\\-]+",
    autocomplete: "off", spellcheck: "false",
  });
  const display = h("input", { id: "us-display", required: true, maxlength: "100" });
  const role = h("select", { id: "us-role", required: true },
    h("option", { value: "" }, t("us_chooseRole")), ...options(ROLES, "role_"));
  const password = h("input", { id: "us-password", type: "password", required: true, minlength: String(PASSWORD_MIN), maxlength: "256", autocomplete: "new-password" });
  const phone = h("input", { id: "us-phone", type: "tel", maxlength: "32" });
  const status = statusLine("us-create-status");
  const form = h("form", { id: "us-form", class: "card adm-form", "aria-labelledby": "us-form-title" },
    h("h2", { id: "us-form-title" }, t("us_create")),
    field("us-username", "username", username, t("us_usernameHint")),
    field("us-display", "us_displayName", display),
    field("us-role", "us_role", role, t("us_roleHint")),
    field("us-password", "password", password, fill("us_passwordHint", { n: PASSWORD_MIN })),
    field("us-phone", "us_phone", phone),
    h("div", { class: "buttons" }, h("button", { type: "submit" }, t("us_createButton"))),
    status);
  onSubmit(form, status, "us_createFailed", async () => {
    const user = await api<User>("POST", "/admin/users", {
      username: username.value.trim(),
      displayName: display.value.trim(),
      role: role.value,
      password: password.value,
      phone: phone.value.trim() || undefined,
    });
    form.reset();
    created(user);
    return fill("us_created", { name: user.username });
  });
  return form;
}

/** The panel of one account; ``notice`` says what was just done to it. */
function editPanel(panel: HTMLElement, u: User, notice: string, changed: (u: User, notice: string) => void): void {
  const self = savedMe()?.id === u.id;
  const close = h("button", { type: "button", class: "close", "aria-label": t("close") }, "×");
  close.addEventListener("click", () => {
    panel.hidden = true;
  });
  const path = `/admin/users/${u.id}`;

  const display = h("input", { id: "us-edit-display", required: true, maxlength: "100", value: u.displayName });
  const role = h("select", { id: "us-edit-role" }, ...options(ROLES, "role_", u.role));
  const phone = h("input", { id: "us-edit-phone", type: "tel", maxlength: "32", value: u.phone ?? "" });
  const editStatus = statusLine("us-edit-status");
  const edit = h("form", { id: "us-edit", class: "adm-form" },
    h("h3", {}, t("us_change")),
    field("us-edit-display", "us_displayName", display),
    field("us-edit-role", "us_role", role, t("us_roleChangeHint")),
    field("us-edit-phone", "us_phone", phone),
    h("div", { class: "buttons" }, h("button", { type: "submit" }, t("us_save"))),
    editStatus);
  onSubmit(edit, editStatus, "us_saveFailed", async () => {
    const body: Record<string, unknown> = { displayName: display.value.trim(), phone: phone.value.trim() };
    if (role.value !== u.role) body["role"] = role.value;
    changed(await api<User>("PATCH", path, body), t("us_saved"));
    return undefined;
  });

  // disabling asks first (the user's sessions end at once); enabling does not
  const toggle = h("button", { type: "button", id: "us-toggle", class: u.active ? "danger" : undefined },
    u.active ? t("us_disable") : t("us_enable"));
  const toggleStatus = statusLine("us-toggle-status");
  const setActive = async (active: boolean): Promise<void> => {
    const next = await api<User>("PATCH", path, { active });
    changed(next, fill(active ? "us_enabledDone" : "us_disabledDone", { name: u.username }));
  };
  if (u.active) {
    confirmInPlace(toggle, fill("us_disableQuestion", { name: u.username }), t("us_disableConfirm"), () => setActive(false));
  } else {
    toggle.addEventListener("click", () => {
      toggle.disabled = true;
      setActive(true).catch((err: unknown) => {
        toggle.disabled = false;
        say(toggleStatus, `${t("us_saveFailed")}：${err instanceof Error ? err.message : String(err)}`, "error");
      });
    });
  }

  const pass = h("input", { id: "us-new-password", type: "password", required: true, minlength: String(PASSWORD_MIN), maxlength: "256", autocomplete: "new-password" });
  const again = h("input", { id: "us-new-password2", type: "password", required: true, autocomplete: "new-password" });
  const resetStatus = statusLine("us-reset-status");
  const reset = h("form", { id: "us-reset", class: "adm-form" },
    h("h3", {}, t("us_resetPassword")),
    field("us-new-password", "us_newPassword", pass, fill("us_passwordHint", { n: PASSWORD_MIN })),
    field("us-new-password2", "us_newPasswordAgain", again),
    h("p", { class: "hint" }, t("us_resetEnds")),
    h("div", { class: "buttons" }, h("button", { type: "submit" }, t("us_resetButton"))),
    resetStatus);
  onSubmit(reset, resetStatus, "us_resetFailed", async () => {
    if (pass.value !== again.value) throw new Error(t("us_passwordsDiffer"));
    await api<User>("POST", `${path}/password`, { password: pass.value });
    reset.reset();
    return fill("us_resetDone", { name: u.username });
  });

  panel.hidden = false;
  panel.replaceChildren(
    h("header", {}, h("h2", { id: "us-panel-title", tabindex: "-1" }, `${u.displayName}（${u.username}）`), close),
    h("p", { class: u.active ? "muted" : "off" }, `${t("status")}：${u.active ? t("us_active") : t("us_disabled")} · ${tr(`role_${u.role}`)}`),
    h("p", { id: "us-panel-status", class: notice ? "form-status ok" : "form-status", "aria-live": "polite" }, notice),
    edit,
    h("div", { class: "adm-form" }, h("h3", {}, t("us_access")),
      self ? h("p", { class: "hint" }, t("us_selfHint")) : null,
      h("div", { class: "buttons" }, toggle), toggleStatus),
    reset);
}

export async function usersPage(main: HTMLElement): Promise<void> {
  let users = await api<User[]>("GET", "/admin/users");
  let current = "";
  const list = h("div", { id: "us-list", "aria-live": "polite" });
  const panel = h("aside", { id: "us-panel", class: "card adm-panel", "aria-labelledby": "us-panel-title", hidden: true });
  const filter = h("select", { id: "us-filter-role" }, h("option", { value: "" }, t("us_allRoles")), ...options(ROLES, "role_"));
  const open = (id: string, notice = "", focus = false): void => {
    const u = users.find((x) => x.id === id);
    if (!u) return;
    current = id;
    draw();
    editPanel(panel, u, notice, (next, done) => {
      users = users.map((x) => (x.id === next.id ? next : x));
      open(next.id, done);
    });
    // opened from the list, the keyboard goes on in the panel (its heading, then the forms)
    if (focus) panel.querySelector<HTMLElement>("#us-panel-title")?.focus();
  };
  const draw = (): void => {
    const shown = filter.value ? users.filter((u) => u.role === filter.value) : users;
    list.replaceChildren(shown.length
      ? table("us-table", ["username", "us_displayName", "us_role", "us_phone", "status", "us_createdAt", "us_actions"],
        shown.map((u) => userRow(u, open, current)), fill("us_count", { n: shown.length }))
      : h("p", { class: "muted" }, t("us_none")));
  };
  const reload = async (): Promise<void> => {
    try {
      users = await api<User[]>("GET", "/admin/users");
      draw();
    } catch (err) {
      list.replaceChildren(failure(err, () => void reload()));
    }
  };
  filter.addEventListener("change", draw);
  main.replaceChildren(h("div", { class: "review-page admin-page users-page" },
    h("div", { class: "toolbar" }, h("h1", {}, t("users"))),
    h("div", { class: "adm-layout" },
      createForm((u) => {
        void reload().then(() => open(u.id));
      }),
      h("section", { class: "adm-main", "aria-labelledby": "us-list-title" },
        h("div", { class: "toolbar" }, h("h2", { id: "us-list-title" }, t("us_list")),
          h("label", { for: "us-filter-role" }, t("us_role")), filter),
        list, panel))));
  draw();
}
