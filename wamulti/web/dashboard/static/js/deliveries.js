// The deliveries view: the latest events with their delivery state and attempts, filtered by account,
// type and state; redeliver one; replay an account's events from a point.
import { get, post, q } from "./api.js";
import { $, announce, el, fillSelect, formatTime, replaceKeepingFocus } from "./dom.js";
import { clientIds, state } from "./state.js";

const WINDOW = 200; // events shown at most
let rows = [];

// Read the window of the latest events again (their delivery states change after they were first seen).
export async function refreshDeliveries() {
  const anchor = state.events.length > WINDOW ? state.events[state.events.length - WINDOW - 1].id : null;
  const params = new URLSearchParams({ limit: String(WINDOW) });
  if (anchor) params.set("after", anchor);
  if ($("#del-client").value) params.set("clientId", $("#del-client").value);
  if ($("#del-type").value) params.set("type", $("#del-type").value);
  const { data } = await get(`/api/events?${params}`);
  rows = data.events;
  renderDeliveries();
}

export function renderDeliveries() {
  fillSelect($("#del-client"), clientIds(), { blank: "all" });
  fillSelect($("#replay-client"), clientIds());
  const wanted = $("#del-state").value;
  const shown = rows.filter((e) => !wanted || e.delivery === wanted).reverse();
  replaceKeepingFocus($("#events-table tbody"), shown.map(row));
}

function row(event) {
  const redeliver = el("button", { type: "button", class: "secondary", "data-focus": `redeliver-${event.id}`,
    "aria-label": `Redeliver ${event.id}`, onclick: () => redeliverEvent(event.id) }, "Redeliver");
  return el("tr", { "data-event": event.id },
    el("td", {}, el("code", {}, event.id), el("br"), el("span", { class: "meta" }, formatTime(event.timestamp))),
    el("td", {}, event.clientId), el("td", {}, event.type),
    el("td", {}, event.delivery), el("td", {}, String(event.attempts)),
    el("td", {}, event.lastError || (event.lastStatus ? `HTTP ${event.lastStatus}` : "")),
    el("td", {}, redeliver));
}

async function redeliverEvent(id) {
  try {
    const { data } = await post(`/api/events/${q(id)}/redeliver`);
    announce(`Event ${id} queued again (${data.delivery}).`);
    await refreshDeliveries();
  } catch (error) {
    announce(error.message);
    $("#replay-result").textContent = error.message;
  }
}

export function setUpDeliveries() {
  for (const id of ["#del-client", "#del-type", "#del-state"]) {
    $(id).addEventListener("change", () => refreshDeliveries().catch((e) => announce(e.message)));
  }
  $("#replay-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const after = $("#replay-after").value.trim();
    try {
      const { data } = await post(`/api/clients/${q($("#replay-client").value)}/webhook/replay`,
        after ? { after } : {});
      $("#replay-result").textContent = `${data.queued} event(s) queued for delivery again.`;
    } catch (error) {
      $("#replay-result").textContent = error.message;
    }
  });
}
