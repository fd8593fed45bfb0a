// How amounts, dates and ids are shown. Money is an integer of the currency's minor units
// (cents for EUR, yen for JPY, fils for KWD) plus an ISO 4217 code.

/** The currency's minor-unit digits as ISO 4217 sets them (2 for EUR, 0 for JPY, 3 for KWD);
 * 2 for a code the browser does not know, as the mobile client and `make demo` do. */
function minorUnitDigits(currency) {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  } catch {
    return 2;
  }
}

export function formatMoney(minorUnits, currency) {
  const digits = minorUnitDigits(currency);
  const amount = minorUnits / 10 ** digits;
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(amount);
  } catch {
    return `${amount.toFixed(digits)} ${currency}`;
  }
}

/** "12.50" -> 1250; null when the text is not an amount with at most two decimals (the form
 * offers only currencies of two: EUR, USD, GBP). */
export function parseCents(text) {
  const match = /^\s*(\d+)(?:[.,](\d{1,2}))?\s*$/.exec(text);
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] || "0").padEnd(2, "0"));
}

export function formatDate(value) {
  if (!value) return "—";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** The first 8 characters of an id: enough to tell rows apart; the full id is in the title. */
export function shortId(id) {
  return String(id ?? "").slice(0, 8);
}
