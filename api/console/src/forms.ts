// What the county administration pages (users, regions, layers, devices, settings) share: a
// labelled field, a form that sends one request and shows its outcome — the API's problem, in
// the user's language, when it is refused — next to itself, and a confirmation asked in place.
import { ApiError } from "./api";
import { h } from "./dom";
import { type Word, t, tr } from "./i18n";

/** The API's problem detail (or the error's text) to show to the user. */
export function message(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  return err instanceof Error ? err.message : String(err);
}

/** A label and its control, with an optional hint the control is described by. */
export function field(id: string, word: Word, control: HTMLElement, hint?: string): HTMLElement {
  const out = h("div", { class: "adm-field" }, h("label", { for: id }, t(word)), control);
  if (hint) {
    control.setAttribute("aria-describedby", `${id}-hint`);
    out.append(h("p", { class: "hint", id: `${id}-hint` }, hint));
  }
  return out;
}

/** ``<option>``s of coded values, each shown by its word ``prefix + value``. */
export function options(values: readonly string[], prefix: string, selected = ""): HTMLOptionElement[] {
  return values.map((v) => h("option", { value: v, selected: v === selected }, tr(`${prefix}${v}`)));
}

/** The line under a form where its outcome is said. */
export function statusLine(id: string): HTMLElement {
  return h("p", { id, class: "form-status", "aria-live": "polite" });
}

export function say(status: HTMLElement, text: string, kind: "ok" | "error" | "" = ""): void {
  status.className = kind ? `form-status ${kind}` : "form-status";
  status.textContent = text;
}

/** On submit: ``send`` (its text, if any, is the success shown); the form's buttons wait
 * meanwhile, and a refusal shows ``failed`` with the API's problem in ``status``. */
export function onSubmit(
  form: HTMLFormElement,
  status: HTMLElement,
  failed: Word,
  send: () => Promise<string | undefined>,
): void {
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const buttons = [...form.querySelectorAll("button")];
    for (const b of buttons) b.disabled = true;
    say(status, t("adm_sending"));
    send()
      .then((done) => say(status, done ?? "", done ? "ok" : ""))
      .catch((err: unknown) => say(status, `${t(failed)}：${message(err)}`, "error"))
      .finally(() => {
        for (const b of buttons) b.disabled = false;
      });
  });
}

/** Asks ``question`` in place of ``button``: confirming runs ``act``, cancelling (or Escape)
 * puts the button back. The focus goes to the cancel button (the safe answer). */
export function confirmInPlace(button: HTMLButtonElement, question: string, yes: string, act: () => Promise<void>): void {
  button.addEventListener("click", () => {
    const confirm = h("button", { type: "button", class: "danger confirm" }, yes);
    const cancel = h("button", { type: "button", class: "cancel" }, t("adm_cancel"));
    const error = h("span", { class: "error", role: "alert" });
    const box = h("span", { class: "confirm-box", role: "group", "aria-label": question },
      h("span", { class: "question" }, question), confirm, cancel, error);
    const back = (): void => {
      box.replaceWith(button);
      button.focus();
    };
    cancel.addEventListener("click", back);
    box.addEventListener("keydown", (e) => {
      if (e.key === "Escape") back();
    });
    confirm.addEventListener("click", () => {
      confirm.disabled = true;
      cancel.disabled = true;
      error.textContent = "";
      act().catch((err: unknown) => {
        confirm.disabled = false;
        cancel.disabled = false;
        error.textContent = message(err);
      });
    });
    button.replaceWith(box);
    cancel.focus();
  });
}

/** ``512 KB``, ``3.2 MB`` or ``8 MB`` of a size in bytes (KB and MB of 1,024). */
export function fileSize(bytes: number): string {
  return bytes < 1024 * 1024
    ? `${Math.max(1, Math.ceil(bytes / 1024))} KB`
    : `${Number((bytes / 1024 / 1024).toFixed(1))} MB`;
}

/** A table with a header row of ``words`` and ``rows``. */
export function table(id: string, words: readonly Word[], rows: HTMLElement[], caption?: string): HTMLTableElement {
  return h("table", { class: "grid", id },
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, ...words.map((w) => h("th", { scope: "col" }, t(w))))),
    h("tbody", {}, ...rows));
}
