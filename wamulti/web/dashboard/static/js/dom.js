// Small DOM helpers: build elements without innerHTML (nothing from the server is parsed as markup).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export const $ = (selector) => document.querySelector(selector);

// Tell screen-reader users (and everyone, through the element's own place) what just happened.
export function announce(text) {
  const live = $("#live");
  live.textContent = "";
  window.setTimeout(() => { live.textContent = text; }, 50);
}

// Replace a node's children, keeping keyboard focus on the control with the same data-focus key.
export function replaceKeepingFocus(parent, children) {
  const focused = document.activeElement;
  const key = parent.contains(focused) && focused.dataset ? focused.dataset.focus : null;
  parent.replaceChildren(...children);
  if (key) {
    const again = parent.querySelector(`[data-focus="${CSS.escape(key)}"]`);
    if (again) again.focus();
  }
}

export function fillSelect(select, values, { blank = null } = {}) {
  const chosen = select.value;
  const options = values.map((v) => el("option", { value: v }, v));
  if (blank !== null) options.unshift(el("option", { value: "" }, blank));
  select.replaceChildren(...options);
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
}

export function formatTime(iso) {
  return iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }) : "";
}
