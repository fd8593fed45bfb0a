// "Check your inbox": what the SPA shows after it asked auth to mail a link.

import { h } from "../dom.js";

const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** On a development platform (`make run`, compose), the gateway's /dev/inbox leads to the inbox. */
function devInboxLink() {
  if (!LOCAL_HOSTS.has(location.hostname)) return null;
  return h(
    "p",
    { className: "muted" },
    "Development platform: mail is caught, not delivered. ",
    h("a", { href: "/dev/inbox", target: "_blank", rel: "noopener" }, "Open the development inbox"),
    ".",
  );
}

/**
 * A card saying a link is on its way to `email`; `resend()` (optional) asks for another.
 */
export function checkYourInbox(ctx, { email, what, resend = null }) {
  const card = h(
    "section",
    { className: "card narrow", "aria-labelledby": "inbox-title", dataset: { state: "check-inbox" } },
    h("h1", { id: "inbox-title" }, "Check your inbox"),
    h("p", {}, "If ", h("strong", {}, email), ` can receive it, we sent ${what}`),
    devInboxLink(),
  );
  if (resend) {
    const button = h("button", { type: "button", className: "secondary" }, "Send the link again");
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await resend();
        ctx.showNotice(`Another link is on its way to ${email}.`);
      } catch (error) {
        ctx.showError(error);
      } finally {
        button.disabled = false;
      }
    });
    card.append(h("p", {}, button));
  }
  card.append(h("p", { className: "muted" }, h("a", { href: "#/login" }, "Back to sign in")));
  return card;
}
