// Orders: create one (items, currency) and list mine with their status and invoice.

import { api } from "../api.js";
import { h } from "../dom.js";
import { formatDate, formatMoney, parseCents, shortId } from "../format.js";
import { whileBusy } from "./forms.js";

const CURRENCIES = ["EUR", "USD", "GBP"];

/** A random Idempotency-Key; works outside secure contexts too, unlike crypto.randomUUID. */
function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

function itemRow(onRemove) {
  const row = h(
    "div",
    { className: "item-row" },
    h("label", { className: "field" }, h("span", { className: "field-label" }, "SKU"),
      h("input", { name: "sku", required: true, maxlength: 64, placeholder: "e.g. book-42" })),
    h("label", { className: "field small" }, h("span", { className: "field-label" }, "Quantity"),
      h("input", { name: "quantity", type: "number", min: 1, step: 1, value: 1, required: true })),
    h("label", { className: "field small" }, h("span", { className: "field-label" }, "Unit price"),
      h("input", { name: "unit_price", inputmode: "decimal", required: true, placeholder: "12.50" })),
  );
  row.append(h("button", { type: "button", className: "link", "aria-label": "Remove item", on: { click: () => onRemove(row) } }, "Remove"));
  return row;
}

function readOrder(form, itemsBox) {
  const items = [];
  for (const row of itemsBox.querySelectorAll(".item-row")) {
    const sku = row.querySelector('[name="sku"]').value.trim();
    const quantity = Number(row.querySelector('[name="quantity"]').value);
    const cents = parseCents(row.querySelector('[name="unit_price"]').value);
    if (!sku || !Number.isInteger(quantity) || quantity < 1) throw new Error("Each item needs a SKU and a quantity of at least 1.");
    if (cents === null) throw new Error(`The unit price of ${sku} is not an amount like 12.50.`);
    items.push({ sku, quantity, unit_price_cents: cents });
  }
  if (items.length === 0) throw new Error("Add at least one item.");
  return { items, currency: form.querySelector('[name="currency"]').value };
}

function orderRow(order, ctx, reload) {
  const actions = h("td", { className: "actions" });
  const act = (label, call) =>
    h("button", {
      type: "button",
      className: "secondary",
      on: {
        click: async (event) => {
          event.currentTarget.disabled = true;
          ctx.clearBanner();
          try {
            await call(order.id);
            await reload();
          } catch (error) {
            ctx.showError(error);
            event.currentTarget.disabled = false;
          }
        },
      },
    }, label);
  if (order.status === "payment_pending" || order.status === "payment_failed") actions.append(act("Pay", api.payOrder));
  if (order.status !== "cancelled") actions.append(act("Cancel", api.cancelOrder));
  const items = (order.items || []).map((item) => `${item.quantity} × ${item.sku}`).join(", ");
  return h(
    "tr",
    { dataset: { orderId: order.id } },
    h("td", { title: order.id }, h("code", {}, shortId(order.id))),
    h("td", {}, formatDate(order.created_at)),
    h("td", {}, items),
    h("td", { className: "num" }, formatMoney(order.total_cents, order.currency)),
    h("td", {}, h("span", { className: `badge status-${order.status}` }, order.status.replace("_", " "))),
    h("td", {}, order.invoice_id ? h("a", { href: "#/invoices", title: order.invoice_id }, shortId(order.invoice_id)) : "—"),
    actions,
  );
}

export async function renderOrders(container, ctx) {
  const itemsBox = h("div", { className: "items" });
  const removeRow = (row) => {
    if (itemsBox.children.length > 1) row.remove();
  };
  itemsBox.append(itemRow(removeRow));
  let idempotencyKey = newIdempotencyKey(); // kept until this draft is saved, so a retry cannot order twice

  const form = h(
    "form",
    { className: "card", "aria-labelledby": "new-order-title" },
    h("h2", { id: "new-order-title" }, "New order"),
    itemsBox,
    h("div", { className: "form-actions" },
      h("button", { type: "button", className: "secondary", on: { click: () => itemsBox.append(itemRow(removeRow)) } }, "Add item"),
      h("label", { className: "field small inline" }, h("span", { className: "field-label" }, "Currency"),
        h("select", { name: "currency" }, CURRENCIES.map((code) => h("option", { value: code }, code)))),
      h("button", { type: "submit", className: "primary" }, "Place order")),
  );
  const tbody = h("tbody");
  const table = h(
    "table",
    { className: "data", "aria-label": "Orders" },
    h("thead", {}, h("tr", {}, ["Order", "Created", "Items", "Total", "Status", "Invoice", ""].map((title) => h("th", { scope: "col", className: title === "Total" ? "num" : null }, title)))),
    tbody,
  );
  const empty = h("p", { className: "muted empty" }, "No orders yet.");

  async function reload() {
    const { items } = await api.listOrders();
    tbody.replaceChildren(...items.map((order) => orderRow(order, ctx, reload)));
    empty.hidden = items.length > 0;
    table.hidden = items.length === 0;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    ctx.clearBanner();
    try {
      const order = readOrder(form, itemsBox);
      const created = await whileBusy(form, () => api.createOrder(order, idempotencyKey));
      idempotencyKey = newIdempotencyKey();
      itemsBox.replaceChildren(itemRow(removeRow));
      ctx.showNotice(
        created.status === "paid"
          ? `Order ${shortId(created.id)} placed and paid: ${formatMoney(created.total_cents, created.currency)}.`
          : `Order ${shortId(created.id)} saved; status: ${created.status.replace("_", " ")}.`,
      );
      await reload();
    } catch (error) {
      ctx.showError(error);
    }
  });

  container.append(h("h1", {}, "Orders"), form, h("section", { className: "card" }, h("h2", {}, "Your orders"), empty, table));
  await reload();
}
