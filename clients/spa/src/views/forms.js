// Form pieces the views share: a labelled input, a submit that shows it is busy, and errors where
// they belong. A field's error goes under that field (the browser's own checks, and the `errors`
// of the API's 422 problem+json); an error about the whole form (a wrong password, a 503) goes at
// the top of the form, never in a banner far from it.

import { h } from "../dom.js";
import { messageOf } from "./loading.js";

let ids = 0;

/**
 * <div class="field"><label for=…>Email</label><input id=… name="email" …></div>: the label
 * names the input for screen readers and tests, and an error said about the field goes after the
 * input, outside the label (so it is the field's description, not part of its name).
 * `className`: "field small" for a narrow one (a quantity, say).
 */
export function field(label, inputProps, className = "field") {
  ids += 1;
  const id = `field-${ids}`;
  return h("div", { className }, h("label", { className: "field-label", for: id }, label), h("input", { ...inputProps, id }));
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

/** Says `message` under `input` (inside its `.field`), marks it invalid and links the two, so a
 * screen reader reads the error with the field. */
function showFieldError(input, message) {
  const holder = input.closest(".field") || input.parentElement;
  let slot = holder.querySelector(":scope > [data-field-error]");
  if (!slot) {
    ids += 1;
    slot = h("span", { className: "field-error", id: `field-error-${ids}`, dataset: { fieldError: "" } });
    holder.append(slot);
  }
  slot.textContent = message;
  input.setAttribute("aria-invalid", "true");
  input.setAttribute("aria-describedby", slot.id);
}

function clearFieldError(input) {
  const holder = input.closest(".field") || input.parentElement;
  holder.querySelector(":scope > [data-field-error]")?.remove();
  input.removeAttribute("aria-invalid");
  input.removeAttribute("aria-describedby");
}

/** Says `message` at the top of the form (after its heading), as an alert. */
export function showFormError(form, message) {
  let slot = form.querySelector(":scope > [data-form-error]");
  if (!slot) {
    slot = h("p", { className: "form-error", role: "alert", dataset: { formError: "" } });
    const heading = form.querySelector(":scope > h1, :scope > h2");
    if (heading) heading.after(slot);
    else form.prepend(slot);
  }
  slot.textContent = message;
}

/** Removes every error shown on the form. */
export function clearErrors(form) {
  form.querySelector(":scope > [data-form-error]")?.remove();
  for (const input of form.querySelectorAll('[aria-invalid="true"]')) clearFieldError(input);
}

/** The browser's own checks (required, type, minlength, pattern, min) said under each field
 * rather than in the browser's bubble; true when every field passes. */
function checkFields(form) {
  let first = null;
  for (const input of form.querySelectorAll("input, select")) {
    if (!input.willValidate || input.validity.valid) continue;
    showFieldError(input, input.validationMessage);
    first ??= input;
  }
  first?.focus();
  return first === null;
}

/** Thrown by a view's own checks before anything is sent: field errors shaped as the API's. */
export class InvalidFields extends Error {
  constructor(fieldErrors) {
    super("Please correct the marked fields.");
    this.fieldErrors = fieldErrors;
  }
}

/**
 * Shows what went wrong with a submitted form. Each of the error's `fieldErrors` goes under the
 * input `locate(field)` finds (by default the input named as the API's field: `email`,
 * `new_password`); the error's message, and any field error no input was found for, go at the
 * top. The first invalid field gets the focus.
 */
export function showErrors(form, error, locate = (name) => form.querySelector(`[name="${CSS.escape(name)}"]`)) {
  const elsewhere = [];
  let first = null;
  for (const { field: name, message } of error.fieldErrors || []) {
    const input = name ? locate(name) : null;
    if (input) {
      showFieldError(input, message);
      first ??= input;
    } else {
      elsewhere.push(name ? `${name}: ${message}` : message);
    }
  }
  if (!first) showFormError(form, [messageOf(error), ...elsewhere].join(" "));
  else if (elsewhere.length) showFormError(form, elsewhere.join(" "));
  first?.focus();
}

/**
 * onSubmit(form, ctx, async (data) => { ... }): the usual submit. The browser's checks are said
 * under the fields, `task(formData)` runs while the form is busy, and whatever it throws is shown
 * on the form (`showErrors`; `locate` as there). A task handles the errors it knows first (a 403
 * for a wrong current password, say) and throws the rest. An error that signed this device out
 * is not shown here: the sign-out says why.
 */
export function onSubmit(form, ctx, task, { locate } = {}) {
  form.noValidate = true;
  form.addEventListener("input", (event) => {
    if (event.target.getAttribute("aria-invalid") === "true") clearFieldError(event.target);
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    ctx.clearBanner();
    clearErrors(form);
    if (!checkFields(form)) return;
    const data = new FormData(form); // before whileBusy: a disabled control is not in it
    try {
      await whileBusy(form, () => task(data));
    } catch (error) {
      if (!error?.sessionEnded) showErrors(form, error, locate);
    }
  });
}
