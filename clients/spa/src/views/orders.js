// Orders: create one (items, currency) and list mine with their status and invoice. The list says
// it is loading until it is here, and a failure to load it stays in its card with Retry while the
// form above keeps working. A refused order says what is wrong under the field concerned: the
// API's 422 `errors` name `items.<n>.<field>`, which is the n-th item row.

import { api } from "../api.js";
import { h } from "../dom.js";
import { formatDate, formatMoney, parseCents, shortId } from "../format.js";
import { InvalidFields, field, onSubmit } from "./forms.js";
import { loadInto } from "./loading.js";
import { dataTable } from "./table.js";

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
    field("SKU", { name: "sku", required: true, maxlength: 64, placeholder: "e.g. book-42" }),
    field("Quantity", { name: "quantity", type: "number", min: 1, step: 1, value: 1, required: true }, "field small"),
    field("Unit price", { name: "unit_price", inputmode: "decimal", required: true, placeholder: "12.50" }, "field small"),
  );
  row.append(h("button", { type: "button", className: "link", "aria-label": "Remove item", on: { click: () => onRemove(row) } }, "Remove"));
  return row;
}

/** The order the form describes (the browser has checked SKU and quantity are there). */
function readOrder(form, itemsBox) {
  const items = [];
  const problems = [];
  [...itemsBox.querySelectorAll(".item-row")].forEach((row, index) => {
    const sku = row.querySelector('[name="sku"]').value.trim();
    const quantity = Number(row.querySelector('[name="quantity"]').value);
    const cents = parseCents(row.querySelector('[name="unit_price"]').value);
    if (!sku) problems.push({ field: `items.${index}.sku`, message: "Enter a SKU." });
    if (cents === null) problems.push({ field: `items.${index}.unit_price_cents`, message: "Enter an amount like 12.50." });
    items.push({ sku, quantity, unit_price_cents: cents });
  });
  if (problems.length) throw new InvalidFields(problems);
  return { items, currency: form.querySelector('[name="currency"]').value };
}

/** The input of an API field name: `items.1.unit_price_cents` is the second row's unit price. */
function itemInput(form, itemsBox, name) {
  const match = /^items\.(\d+)\.(sku|quantity|unit_price_cents)$/.exec(name);
  if (!match) return form.querySelector(`[name="${CSS.escape(name)}"]`);
  const row = itemsBox.querySelectorAll(".item-row")[Number(match[1])];
  return row ? row.querySelector(`[name="${match[2] === "unit_price_cents" ? "unit_price" : match[2]}"]`) : null;
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
  // One Idempotency-Key per order sent: sending the same order again (after a timeout, a 503)
  // reuses it, so the retry cannot order twice; a corrected order is another request, another key.
  let sent = { body: null, key: null };

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
  const table = dataTable("Orders", ["Order", "Created", "Items", "Total", "Status", "Invoice", ""], { numeric: ["Total"] });
  const list = h("div", { className: "list" });

  const reload = () =>
    loadInto(list, {
      what: "your orders",
      load: api.listOrders,
      show({ items }) {
        table.setRows(items.map((order) => orderRow(order, ctx, reload)));
        list.append(items.length ? table.element : h("p", { className: "muted empty" }, "No orders yet."));
      },
    });

  onSubmit(
    form,
    ctx,
    async () => {
      const order = readOrder(form, itemsBox);
      const body = JSON.stringify(order);
      if (body !== sent.body) sent = { body, key: newIdempotencyKey() };
      const created = await api.createOrder(order, sent.key);
      sent = { body: null, key: null };
      itemsBox.replaceChildren(itemRow(removeRow));
      ctx.showNotice(
        created.status === "paid"
          ? `Order ${shortId(created.id)} placed and paid: ${formatMoney(created.total_cents, created.currency)}.`
          : `Order ${shortId(created.id)} saved; status: ${created.status.replace("_", " ")}.`,
      );
      await reload();
    },
    { locate: (name) => itemInput(form, itemsBox, name) },
  );

  container.append(
    h("h1", {}, "Orders"),
    form,
    h("section", { className: "card", "aria-labelledby": "your-orders-title" }, h("h2", { id: "your-orders-title" }, "Your orders"), list),
  );
  await reload();
}
