// A client's own webhook: set its URL (PUT .../webhook) and send a test delivery, which delivers the
// client's latest event again (POST /api/events/<id>/redeliver) so the receiver sees a real, signed body.
import { get, post, put, q } from "./api.js";
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

// The client's latest event: from what the page holds, else read to the end of its events.
async function latestEvent(id) {
  const held = [...state.events].reverse().find((e) => e.clientId === id);
  if (held) return held;
  let after = "", last = null;
  for (let page = 0; page < 20; page++) {
    const { data } = await get(`/api/events?clientId=${q(id)}&limit=1000${after}`);
    if (data.events.length) last = data.events[data.events.length - 1];
    if (!data.next) break;
    after = `&after=${q(data.next)}`;
  }
  return last;
}

async function testDelivery(id, result) {
  let latest;
  try {
    latest = await latestEvent(id);
  } catch (error) {
    result.textContent = error.message;
    return;
  }
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
