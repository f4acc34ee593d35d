// The conversations view: an account's latest messages in and out, from the event log, and sends
// made from this page (texts and files) with their progress (queued -> sending -> server -> delivered -> read,
// or failed).
import { get, post, q } from "./api.js";
import { $, announce, el, fillSelect, formatTime, replaceKeepingFocus } from "./dom.js";
import { mediaLine, setUpFileSending } from "./media.js";
import { clientIds, state } from "./state.js";

const STEPS = ["queued", "sending", "server", "delivered", "read"];
const FINAL = new Set(["read", "failed"]);
const sent = new Map(); // messageId -> {clientId, to, text, media, status, reason, at}: sends made from this page

export function chosenClient() {
  return $("#conv-client").value;
}

export function renderConversations() {
  fillSelect($("#conv-client"), clientIds());
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
  const heard = new Map(); // WhatsApp's id of a `message` -> its item (a `message.media` updates its file)
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
      const item = { out: Boolean(d.fromMe), key: event.id, text: d.text || (d.media ? "" : `(${d.kind})`),
        media: d.media, at: d.sentAt || event.timestamp, from: d.pushName || d.from || d.chat, status: null };
      heard.set(d.id, item);
      items.push(item);
    } else if (event.type === "message.media" && heard.has(d.messageId)) {
      heard.get(d.messageId).media = d.media;
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
    : item.text ? el("p", {}, item.text) : null;
  return el("li", { class: item.out ? "out" : "in", "data-message": item.key },
    el("p", { class: "meta" }, meta), item.media ? mediaLine(item.media) : null, text,
    item.out && item.status ? progress(item) : null);
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

// A send this page made (its answer: messageId, to, status): shown with its progress from now on.
function remember(clientId, answer, what) {
  sent.set(answer.messageId, { clientId, to: answer.to, ...what, status: answer.status || "server",
    reason: null, at: new Date().toISOString() });
  renderConversations();
}

export function setUpSending(refresh) {
  $("#conv-client").addEventListener("change", () => {
    $("#send-error").textContent = ""; $("#file-error").textContent = ""; // they spoke of the other account
    renderConversations();
  });
  $("#send-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const clientId = chosenClient();
    $("#send-error").textContent = "";
    try {
      const body = { clientId, to: form.to.value, text: form.text.value, wait: false };
      const { data } = await post("/api/messages/send", body);
      remember(clientId, data, { text: body.text });
      form.text.value = "";
      announce("Message accepted.");
      refresh();
    } catch (error) {
      $("#send-error").textContent = error.message;
    }
  });
  setUpFileSending(chosenClient, (clientId, answer, { kind, fileName, caption }) => {
    remember(clientId, answer, { text: caption, media: { kind, fileName } });
    refresh();
  });
}
