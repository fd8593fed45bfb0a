// What a screen shows while its data is on the way, and when it could not get it. "Loading your
// orders…" until the list is here (never "No orders yet." before we know), and a failure that
// stays inside the card it concerns, says why, and offers Retry; the header, the navigation and
// the rest of the screen stay as they are.

import { h } from "../dom.js";

/** An error's words for the user: an ApiError's message (title, detail, Retry-After), or the
 * browser's for anything else. */
export function messageOf(error) {
  if (error instanceof TypeError) return "The server cannot be reached. Check your connection, then retry.";
  return error && error.message ? error.message : String(error);
}

/** "Could not load your orders. <why> [Retry]", as an alert; `retry()` runs on the button. */
export function failureNote(error, { what, retry }) {
  return h(
    "div",
    { className: "failure", role: "alert", dataset: { state: "failed" } },
    h("p", {}, h("strong", {}, `Could not load ${what}.`), " ", messageOf(error)),
    h("p", {}, h("button", { type: "button", className: "secondary", on: { click: retry } }, "Retry")),
  );
}

/**
 * await loadInto(box, { what: "your orders", load: api.listOrders, show: (answer) => box.append(...) })
 *
 * Runs `load()` and shows its outcome in `box`. An empty box says "Loading your orders…" until
 * the answer is here; a box that already shows something (a reload after an action) keeps it, so
 * nothing jumps. Then `show(answer)` fills the emptied box, or the failure and its Retry take its
 * place; Retry starts again from "Loading…". A call that failed because this device was signed out
 * shows nothing: the sign-out says why.
 */
export async function loadInto(box, { what, load, show }) {
  if (!box.hasChildNodes()) box.append(h("p", { className: "muted loading", role: "status" }, `Loading ${what}…`));
  box.setAttribute("aria-busy", "true");
  try {
    const answer = await load();
    box.replaceChildren();
    show(answer);
  } catch (error) {
    if (error?.sessionEnded) return;
    const retry = () => {
      box.replaceChildren();
      loadInto(box, { what, load, show });
    };
    box.replaceChildren(failureNote(error, { what, retry }));
  } finally {
    box.removeAttribute("aria-busy");
  }
}
