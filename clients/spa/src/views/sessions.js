// Sessions: the devices signed in to my account; revoke any but this one (use "Sign out" for it).

import { api } from "../api.js";
import { h } from "../dom.js";
import { formatDate, shortId } from "../format.js";

function describeDevice(session) {
  const agent = session.user_agent || "unknown device";
  const browser = /(Firefox|Edg|Chrome|Safari)\/[\d.]+/.exec(agent);
  return browser ? `${browser[0].split("/")[0].replace("Edg", "Edge")} (${session.client_id})` : `${agent} (${session.client_id})`;
}

export async function renderSessions(container, ctx) {
  const tbody = h("tbody");

  async function reload() {
    const { items } = await api.listSessions();
    tbody.replaceChildren(
      ...items.map((session) =>
        h(
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
                  on: {
                    click: async (event) => {
                      event.currentTarget.disabled = true;
                      ctx.clearBanner();
                      try {
                        await api.revokeSession(session.id);
                        ctx.showNotice("Session revoked: that device is signed out.");
                        await reload();
                      } catch (error) {
                        ctx.showError(error);
                      }
                    },
                  },
                }, "Revoke")),
        ),
      ),
    );
  }

  container.append(
    h("h1", {}, "Sessions"),
    h("section", { className: "card" },
      h("p", { className: "muted" }, "Every device signed in to your account. Revoking one signs it out within seconds."),
      h("table", { className: "data", "aria-label": "Sessions" },
        h("thead", {}, h("tr", {}, ["Device", "IP address", "Signed in", "Last used", ""].map((title) => h("th", { scope: "col" }, title)))),
        tbody)),
  );
  await reload();
}
