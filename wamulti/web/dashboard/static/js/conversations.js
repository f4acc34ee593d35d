// The conversations view: an account's latest messages in and out, from the event log, and sends
// made from this page with their progress (queued -> sending -> server -> delivered -> read, or failed).
import { get, post, q } from "./api.js";
import { $, announce, el, fillSelect, formatTime, replaceKeepingFocus } from "./dom.js";
import { clientIds, state } from "./state.js";

const STEPS = ["queued", "sending", "server", "delivered", "read"];
const FINAL = new Set(["read", "failed"]);
const sent = new Map(); // messageId -> {clientId, to, text, status, reason, at}: sends made from this page

// Issue 25 (media): when the API can send a file, set mediaHook.sendFile to
// async (clientId, to, file, caption) => ({messageId}) and the file field appears. Until then the page
// offers no file field: nothing pretends to send one.
export const mediaHook = { sendFile: null };

export function chosenClient() {
  return $("#conv-client").value;
}

export function renderConversations() {
  fillSelect($("#conv-client"), clientIds());
  $("#send-file-slot").hidden = mediaHook.sendFile === null;
  const id = chosenClient();
  const items = id ? messagesOf(id) : [];
  replaceKeepingFocus($("#messages"), items.slice(0, 50).map(messageItem));
  $("#messages-empty").hidden = items.length > 0;
}

function rank(status) {
  const s = status === "played" ? "read" : status === "sent" ? "server" : status;
  return s === "failed" ? 99 : STEPS.indexOf(s);
}

function messagesOf(clientId) {
  const out = new Map(); // messageId (or WhatsApp's id) -> outgoing item
  const items = [];
  for (const [messageId, send] of sent) {
    if (send.clientId !== clientId) continue;
    const item = { out: true, key: messageId, ...send };
    out.set(messageId, item);
    items.push(item);
  }
  for (const event of state.events) {
    if (event.clientId !== clientId) continue;
    const d = event.data;
    if (event.type === "message") {
      items.push({ out: Boolean(d.fromMe), key: event.id, text: d.text || `(${d.kind})`, at: d.sentAt || event.timestamp,
        from: d.pushName || d.from || d.chat, status: null });
    } else if (event.type === "message.ack") {
      const key = d.messageId || d.id;
      let item = out.get(key);
      if (!item) {
        item = { out: true, key, to: d.chat, text: null, status: d.status, reason: d.reason, at: event.timestamp };
        out.set(key, item);
        items.push(item);
      } else if (rank(d.status) > rank(item.status)) {
        item.status = d.status; item.reason = d.reason || item.reason;
      }
    }
  }
  return items.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
}

function messageItem(item) {
  const meta = item.out ? `to ${item.to || "?"} \u00b7 ${formatTime(item.at)}` : `from ${item.from} \u00b7 ${formatTime(item.at)}`;
  const text = item.text === null ? el("p", { class: "meta" }, `Message ${item.key} (its text is not in the event log)`)
    : el("p", {}, item.text);
  return el("li", { class: item.out ? "out" : "in", "data-message": item.key },
    el("p", { class: "meta" }, meta), text, item.out && item.status ? progress(item) : null);
}

function progress(item) {
  if (item.status === "failed") {
    return el("ul", { class: "progress", "aria-label": "Progress" },
      el("li", { class: "failed", "data-status": "failed" }, `failed: ${item.reason || "no reason given"}`));
  }
  const reached = rank(item.status);
  return el("ul", { class: "progress", "aria-label": `Progress: ${item.status}`, "data-status": item.status },
    STEPS.map((step, i) => el("li", { class: i <= reached ? "done" : "" }, step)));
}

// Sends from this page that are not read or failed yet: their rows, read again each poll.
export async function refreshSends() {
  const open = [...sent.entries()].filter(([, s]) => !FINAL.has(s.status)).slice(0, 20);
  for (const [messageId, send] of open) {
    try {
      const { data } = await get(`/api/messages/${q(messageId)}`);
      if (rank(data.status) >= rank(send.status)) { send.status = data.status; send.reason = data.reason; }
    } catch (error) {
      if (error.status === 404) sent.delete(messageId);
    }
  }
  return open.length > 0;
}

export function setUpSending(refresh) {
  $("#conv-client").addEventListener("change", renderConversations);
  $("#send-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const clientId = chosenClient();
    $("#send-error").textContent = "";
    try {
      const body = { clientId, to: form.to.value, text: form.text.value, wait: false };
      const { data } = await post("/api/messages/send", body);
      sent.set(data.messageId, { clientId, to: data.to, text: body.text, status: data.status || "server",
        reason: null, at: new Date().toISOString() });
      form.text.value = "";
      announce("Message accepted.");
      renderConversations();
      refresh();
    } catch (error) {
      $("#send-error").textContent = error.message;
    }
  });
}
