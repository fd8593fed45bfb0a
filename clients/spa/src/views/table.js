// A data table that fits any screen: on a narrow one (app.css, below 640 px) its rows become
// stacked cards, each value after its column's heading, so no table runs out of its card. Every
// cell carries that heading as `data-label` for the stylesheet to show.

import { h } from "../dom.js";

/**
 * const orders = dataTable("Orders", ["Order", "Total", ""], { numeric: ["Total"] });
 * card.append(orders.element);  orders.setRows(items.map((item) => h("tr", {}, h("td", …), …)));
 *
 * `label` names the table (aria-label); a column titled "" (row actions) gets no label.
 */
export function dataTable(label, columns, { numeric = [] } = {}) {
  const tbody = h("tbody");
  const element = h(
    "table",
    { className: "data", "aria-label": label },
    h("thead", {}, h("tr", {}, columns.map((title) => h("th", { scope: "col", className: numeric.includes(title) ? "num" : null }, title)))),
    tbody,
  );
  return {
    element,
    setRows(rows) {
      for (const row of rows) {
        [...row.cells].forEach((cell, index) => {
          if (columns[index]) cell.dataset.label = columns[index];
        });
      }
      tbody.replaceChildren(...rows);
    },
  };
}
