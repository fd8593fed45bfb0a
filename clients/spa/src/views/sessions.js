// Sessions: the devices signed in to my account; revoke any but this one (use "Log out" for it).

import { api } from "../api.js";
import { h } from "../dom.js";
import { formatDate, shortId } from "../format.js";
import { loadInto } from "./loading.js";
import { dataTable } from "./table.js";

function describeDevice(session) {
  const agent = session.user_agent || "unknown device";
  const browser = /(Firefox|Edg|Chrome|Safari)\/[\d.]+/.exec(agent);
  return browser ? `${browser[0].split("/")[0].replace("Edg", "Edge")} (${session.client_id})` : `${agent} (${session.client_id})`;
}

export async function renderSessions(container, ctx) {
  const table = dataTable("Sessions", ["Device", "IP address", "Signed in", "Last used", ""]);
  const list = h("div", { className: "list" });

  async function revoke(event, session) {
    const button = event.currentTarget;
    button.disabled = true;
    ctx.clearBanner();
    try {
      await api.revokeSession(session.id);
      ctx.showNotice("Session revoked: that device is signed out.");
      await reload();
    } catch (error) {
      ctx.showError(error);
      button.disabled = false;
    }
  }

  function sessionRow(session) {
    return h(
      "tr",
      { dataset: { sessionId: session.id }, className: session.current ? "current" : null },
      h("td", { title: session.user_agent || "" }, describeDevice(session),
        session.current ? h("span", { className: "badge status-current" }, "this device") : null),
      h("td", {}, session.ip || "—"),
      h("td", {}, formatDate(session.created_at)),
      h("td", {}, formatDate(session.last_used_at)),
      h("td", { className: "actions" },
        session.current
          ? null
          : h("button", {
              type: "button",
              className: "secondary",
              "aria-label": `Revoke session ${shortId(session.id)}`,
              on: { click: (event) => revoke(event, session) },
            }, "Revoke")),
    );
  }

  const reload = () =>
    loadInto(list, {
      what: "your sessions",
      load: api.listSessions,
      show({ items }) {
        table.setRows(items.map(sessionRow));
        list.append(table.element);
      },
    });

  container.append(
    h("h1", {}, "Sessions"),
    h("section", { className: "card", "aria-label": "Your sessions" },
      h("p", { className: "muted" }, "Every device signed in to your account. Revoking one signs it out within seconds."),
      list),
  );
  await reload();
}
