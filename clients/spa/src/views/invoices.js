// Invoices: what billing charged for my orders. "Loading your invoices…" until the list is here;
// a failure stays in the card with Retry.

import { api } from "../api.js";
import { h } from "../dom.js";
import { formatDate, formatMoney, shortId } from "../format.js";
import { loadInto } from "./loading.js";
import { dataTable } from "./table.js";

function invoiceRow(invoice) {
  return h(
    "tr",
    { dataset: { invoiceId: invoice.id } },
    h("td", { title: invoice.id }, h("code", {}, shortId(invoice.id))),
    h("td", { title: invoice.order_id }, h("code", {}, shortId(invoice.order_id))),
    h("td", {}, formatDate(invoice.created_at)),
    h("td", { className: "num" }, formatMoney(invoice.amount_cents, invoice.currency)),
    h("td", {}, h("span", { className: `badge status-${invoice.status}` }, invoice.status)),
  );
}

export async function renderInvoices(container) {
  const table = dataTable("Invoices", ["Invoice", "Order", "Created", "Amount", "Status"], { numeric: ["Amount"] });
  const list = h("section", { className: "card", "aria-label": "Your invoices" });
  container.append(h("h1", {}, "Invoices"), list);
  await loadInto(list, {
    what: "your invoices",
    load: api.listInvoices,
    show({ items }) {
      table.setRows(items.map(invoiceRow));
      list.append(items.length ? table.element : h("p", { className: "muted empty" }, "No invoices yet: they appear when an order is paid."));
    },
  });
}
