// A small element builder: text is always set as text, never parsed as HTML.
type Attrs = Record<string, string | boolean | EventListener | undefined>;
type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(name.replace(/^on/, ""), value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return el;
}

// Questions asked one after another of which only the latest answer may be drawn (a list
// whose filter changed while its previous answer was still on the way): `ask()` starts a
// question, `same()` continues the current one (its next page); each returns a check that
// holds while no newer question has been asked.
export function questions(): { ask: () => () => boolean; same: () => () => boolean } {
  let asked = 0;
  return {
    ask: () => {
      const mine = ++asked;
      return () => mine === asked;
    },
    same: () => {
      const mine = asked;
      return () => mine === asked;
    },
  };
}
