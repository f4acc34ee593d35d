// The accounts view: a card per client, updated in place as the overview changes (no reload).
import { del, post, q } from "./api.js";
import { $, announce, el, replaceKeepingFocus } from "./dom.js";
import { pairingPanel, qrWanted } from "./pairing.js";
import { state } from "./state.js";
import { webhookForm } from "./webhook.js";
import { UNLINKED_MEANS, errorInWords } from "./words.js";

const cards = new Map(); // clientId -> {li, live, actions, repair, rendered}

export function renderAccounts() {
  const list = $("#accounts-list");
  const seen = new Set();
  for (const client of state.clients) {
    seen.add(client.clientId);
    let card = cards.get(client.clientId);
    if (!card) {
      card = newCard(client);
      cards.set(client.clientId, card);
    }
    updateCard(card, client);
    list.append(card.li); // in the overview's order (by id); append moves an existing card
  }
  for (const [id, card] of cards) {
    if (!seen.has(id)) { card.li.remove(); cards.delete(id); }
  }
  $("#accounts-empty").hidden = state.clients.length > 0;
  $("#create-panel").hidden = state.role !== "admin";
}

function newCard(client) {
  const id = client.clientId;
  const live = el("div");
  const repair = el("button", { type: "button", class: "secondary", "data-focus": `repair-${id}`,
    onclick: () => act(() => post(`/api/clients/${q(id)}/pair`, {}), `Pairing ${id} again.`) }, "Re-pair");
  const remove = state.role === "admin" ? el("button", { type: "button", class: "danger", "data-focus": `delete-${id}`,
    onclick: () => deleteClient(id) }, "Delete") : null;
  const hook = webhookForm(id);
  const hookButton = el("button", { type: "button", class: "secondary", "aria-expanded": "false",
    onclick: (e) => { hook.hidden = !hook.hidden; e.target.setAttribute("aria-expanded", String(!hook.hidden)); } },
  "Webhook");
  const talk = el("a", { href: `#conversations/${encodeURIComponent(id)}` }, "Conversations");
  const actions = el("div", { class: "actions" }, repair, hookButton, remove, talk);
  const li = el("li", { class: "card account", "data-client": id }, live, actions, hook);
  return { li, live, repair, rendered: null };
}

function updateCard(card, client) {
  const json = JSON.stringify(client);
  if (json === card.rendered) return;
  card.rendered = json;
  const words = errorInWords(client.lastError);
  const facts = el("dl", { class: "facts" },
    el("dt", {}, "Phone"), el("dd", {}, client.phone ? `+${client.phone}` : "\u2014"),
    client.jid ? [el("dt", {}, "JID"), el("dd", {}, client.jid)] : null,
    el("dt", {}, "Problem"), el("dd", { class: words ? "problem" : "" },
      words ? [words, " ", el("code", {}, client.lastError)] : "none"),
    el("dt", {}, "Snapshot lag"), el("dd", {}, `${client.snapshotLagSeconds} s`),
    el("dt", {}, "Queue"), el("dd", {}, String(client.queueLength)),
    el("dt", {}, "Sent / failed"), el("dd", {}, `${client.sent} / ${client.failed}`));
  const head = el("div", { class: "head" }, el("h2", {}, client.clientId),
    el("span", { class: `state state-${client.state}` }, client.state));
  replaceKeepingFocus(card.live, [head, facts, pairingPanel(client, showError)].filter(Boolean));
  card.repair.hidden = client.state !== "CLOSED"; // while PAIRING the panel has its own "New code"
  card.repair.textContent = client.state === "CLOSED" && !client.jid ? "New code" : "Re-pair";
}

async function act(call, done) {
  $("#accounts-error").textContent = "";
  try {
    await call();
    announce(done);
  } catch (error) {
    showError(error);
  }
}

function showError(error) {
  $("#accounts-error").textContent = error.message;
}

async function deleteClient(id) {
  const dialog = $("#confirm-dialog");
  $("#confirm-title").textContent = `Delete ${id}?`;
  $("#confirm-text").textContent = UNLINKED_MEANS;
  dialog.returnValue = "";
  dialog.showModal();
  $("#confirm-ok").focus();
  await new Promise((resolve) => dialog.addEventListener("close", resolve, { once: true }));
  if (dialog.returnValue !== "ok") return;
  try {
    const { data } = await del(`/api/clients/${q(id)}`);
    qrWanted.delete(id);
    announce(`${id} deleted. ${data.unlinked ? "The phone no longer lists it." : ""} ${data.message}`);
  } catch (error) {
    showError(error);
  }
}

export function setUpCreate(refresh) {
  $("#create-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const clientId = form.clientId.value.trim();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    $("#create-error").textContent = "";
    try {
      if (form.method.value === "qr") qrWanted.add(clientId);
      const { data } = await post("/api/clients", { clientId, phone: form.phone.value });
      announce(data.pairingCode ? `${clientId} created: type the code ${data.pairingCode} on the phone.`
        : `${clientId} created.`);
      form.reset();
      await refresh();
      const card = document.querySelector(`[data-client="${CSS.escape(clientId)}"] h2`);
      if (card) card.scrollIntoView({ block: "nearest" });
    } catch (error) {
      qrWanted.delete(clientId);
      $("#create-error").textContent = error.message;
    } finally {
      button.disabled = false;
    }
  });
}
