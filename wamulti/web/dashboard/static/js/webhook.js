// A client's own webhook: set its URL (PUT .../webhook) and send a test delivery, which delivers the
// client's latest event again (POST /api/events/<id>/redeliver) so the receiver sees a real, signed body.
import { post, put, q } from "./api.js";
import { el } from "./dom.js";
import { state } from "./state.js";

export function webhookForm(id) {
  const url = el("input", { id: `hook-url-${id}`, type: "url", required: true, placeholder: "https://example.com/hook",
    autocomplete: "off" });
  const result = el("p", { role: "status", class: "help" });
  const save = el("button", { type: "submit" }, "Save webhook");
  const test = el("button", { type: "button", class: "secondary", onclick: () => testDelivery(id, result) },
    "Send a test delivery");
  const form = el("form", { class: "webhook", hidden: true },
    el("label", { for: `hook-url-${id}` }, "Webhook URL for this account"), url,
    el("p", { class: "help" }, "Replaces the global webhook for this account. A test delivery sends the account's " +
      "latest event again, signed like every delivery; its outcome shows under Deliveries."),
    el("div", { class: "actions" }, save, test), result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const { data } = await put(`/api/clients/${q(id)}/webhook`, { url: url.value });
      result.textContent = `Saved. Signing secret (shown this once): ${data.secret}`;
    } catch (error) {
      result.textContent = error.message;
    }
  });
  return form;
}

async function testDelivery(id, result) {
  const latest = [...state.events].reverse().find((e) => e.clientId === id);
  if (!latest) {
    result.textContent = "This account has no event yet to deliver.";
    return;
  }
  try {
    const { data } = await post(`/api/events/${q(latest.id)}/redeliver`);
    result.textContent = `Event ${data.id} queued for delivery (${data.delivery}).`;
  } catch (error) {
    result.textContent = error.message;
  }
}
