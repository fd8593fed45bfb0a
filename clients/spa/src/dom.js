// A tiny DOM builder. Data always goes in as text nodes (textContent), never as HTML, so a
// server value such as an order SKU `<img onerror=...>` is shown, not run.

/**
 * h("button", { className: "primary", type: "submit", on: { click: save } }, "Save")
 *
 * Props: `className`, `on` (event listeners), `dataset`, boolean/other attributes by name.
 * Children: nodes, strings/numbers (as text), arrays, or null/false (skipped).
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "className") element.className = value;
    else if (name === "on") {
      for (const [event, listener] of Object.entries(value)) element.addEventListener(event, listener);
    } else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name === "style" || name.startsWith("on")) {
      throw new Error(`h(): "${name}" is not allowed (the CSP forbids inline style and handlers)`);
    } else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.append(child);
    else parent.append(document.createTextNode(String(child)));
  }
}

/** Replaces everything inside `element` with `children`. */
export function replaceChildren(element, ...children) {
  element.replaceChildren();
  append(element, children);
}
