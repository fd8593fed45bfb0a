// Form pieces the views share: a labelled input and a submit button that shows it is busy.

import { h } from "../dom.js";

/** <label>Email <input name="email" ...></label>: the label names the input for screen readers and tests. */
export function field(label, inputProps) {
  return h("label", { className: "field" }, h("span", { className: "field-label" }, label), h("input", inputProps));
}

/** Disables the form's controls while `task` runs, so a double click cannot submit twice. */
export async function whileBusy(form, task) {
  const controls = [...form.querySelectorAll("button, input, select")];
  for (const control of controls) control.disabled = true;
  form.setAttribute("aria-busy", "true");
  try {
    return await task();
  } finally {
    for (const control of controls) control.disabled = false;
    form.removeAttribute("aria-busy");
  }
}
