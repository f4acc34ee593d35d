// The pairing panel of a PAIRING client: the code large, the countdown to pairingExpiresAt, "new code"
// once it expired, and the QR code (refreshed while shown, as WhatsApp rotates it).
import { post, q } from "./api.js";
import { announce, el } from "./dom.js";

const QR_REFRESH_MS = 5000;
export const qrWanted = new Set(); // clients whose QR is shown (chosen at create, or opened)

export function pairingPanel(client, onError) {
  if (client.state !== "PAIRING") return null;
  const id = client.clientId;
  const newCode = el("button", { type: "button", class: "secondary", "data-focus": `newcode-${id}`, hidden: true,
    onclick: () => askNewCode(id, onError) }, "New code");
  const countdown = el("p", { class: "countdown", "data-expires": client.pairingExpiresAt || "", "data-for": id });
  const qr = el("details", { class: "qr-box", open: qrWanted.has(id), ontoggle: (e) => toggleQr(id, e.target) },
    el("summary", { "data-focus": `qr-${id}` }, "Scan a QR code instead"),
    el("img", { class: "qr", alt: `QR code to link ${id}: scan it in WhatsApp, Linked devices`, "data-qr": id }));
  if (qrWanted.has(id)) window.setTimeout(() => loadQr(qr.querySelector("img")), 0);
  const code = client.pairingCode
    ? [el("p", {}, "On the phone: WhatsApp, Linked devices, Link a device, Link with phone number instead, then type:"),
      el("p", { class: "code", "aria-label": `Pairing code ${client.pairingCode.split("").join(" ")}` }, client.pairingCode)]
    : [el("p", {}, "Waiting for WhatsApp's pairing code\u2026")];
  const panel = el("div", { class: "pairing" }, ...code, countdown, newCode, qr);
  tick(countdown);
  return panel;
}

async function askNewCode(id, onError) {
  try {
    await post(`/api/clients/${q(id)}/pair`, {});
    announce(`A new code was asked for ${id}.`);
  } catch (error) {
    onError(error);
  }
}

function toggleQr(id, details) {
  if (details.open) {
    qrWanted.add(id);
    loadQr(details.querySelector("img"));
  } else {
    qrWanted.delete(id);
  }
}

function loadQr(img) {
  if (img && img.isConnected) img.src = `/api/clients/${q(img.dataset.qr)}/qr?format=png&t=${Date.now()}`;
}

// Every second: the countdowns, and "new code" once a code expired; every 5 s: the open QR codes.
export function startTicking() {
  let ticks = 0;
  window.setInterval(() => {
    for (const node of document.querySelectorAll("[data-expires]")) tick(node);
    if (++ticks % (QR_REFRESH_MS / 1000) === 0) {
      for (const img of document.querySelectorAll(".qr-box[open] img[data-qr]")) loadQr(img);
    }
  }, 1000);
}

function secondsLeft(expiresAt) {
  return expiresAt ? Math.max(0, Math.round((Date.parse(expiresAt) - Date.now()) / 1000)) : null;
}

function tick(node) {
  const left = secondsLeft(node.dataset.expires);
  const button = node.closest(".pairing").querySelector("button");
  node.textContent = left === null ? "" : left > 0
    ? `The code works for ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")} more.` : "The code expired.";
  if (button) button.hidden = left === null || left > 0;
  node.closest(".pairing").classList.toggle("expired", left === 0);
}
