// Invoices: what billing charged for my orders.

import { api } from "../api.js";
import { h } from "../dom.js";
import { formatDate, formatMoney, shortId } from "../format.js";

export async function renderInvoices(container) {
  const { items } = await api.listInvoices();
  const rows = items.map((invoice) =>
    h(
      "tr",
      { dataset: { invoiceId: invoice.id } },
      h("td", { title: invoice.id }, h("code", {}, shortId(invoice.id))),
      h("td", { title: invoice.order_id }, h("code", {}, shortId(invoice.order_id))),
      h("td", {}, formatDate(invoice.created_at)),
      h("td", { className: "num" }, formatMoney(invoice.amount_cents, invoice.currency)),
      h("td", {}, h("span", { className: `badge status-${invoice.status}` }, invoice.status)),
    ),
  );
  const body =
    rows.length === 0
      ? h("p", { className: "muted empty" }, "No invoices yet: they appear when an order is paid.")
      : h(
          "table",
          { className: "data", "aria-label": "Invoices" },
          h("thead", {}, h("tr", {}, ["Invoice", "Order", "Created", "Amount", "Status"].map((title) => h("th", { scope: "col", className: title === "Amount" ? "num" : null }, title)))),
          h("tbody", {}, rows),
        );
  container.append(h("h1", {}, "Invoices"), h("section", { className: "card" }, body));
}
