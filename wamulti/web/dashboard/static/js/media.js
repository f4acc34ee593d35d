// Files in the conversations view: send one (upload the raw bytes, then send the stored file by its id)
// and show a message's file (its kind, name and a download link; never its content inline).
import { ApiError, post, q, upload } from "./api.js";
import { $, announce, el } from "./dom.js";

const CAPTIONED = new Set(["image", "video", "document"]); // what the API lets carry a caption

// A first guess from the browser's type of the file; the person can choose another kind.
export function guessKind(file) {
  const type = (file.type || "").toLowerCase();
  if (type === "image/webp") return "sticker";
  if (type.startsWith("image/")) return "image";
  if (type.startsWith("video/")) return "video";
  if (type === "audio/ogg" || type === "audio/opus") return "voice";
  if (type.startsWith("audio/")) return "audio";
  return "document";
}

// Upload `file` for the client, then send it: the send's answer (messageId, to, status).
export async function sendFile(clientId, to, file, { kind, caption }) {
  const stored = await upload(`/api/media?fileName=${q(file.name)}&clientId=${q(clientId)}`, file);
  const media = { id: stored.data.mediaId, kind };
  if (caption && CAPTIONED.has(kind)) media.caption = caption;
  if (kind === "document") media.fileName = file.name;
  const { data } = await post("/api/messages/send", { clientId, to, media, wait: false });
  return data;
}

// What is wrong with the form before anything is uploaded, in words; null when it can go.
function problem(to, file, kind, caption) {
  if (!to) return "Fill in \u201cTo\u201d above first: whom the file goes to.";
  if (!file) return "Choose a file to send.";
  if (file.size === 0) return "That file is empty.";
  if (caption && !CAPTIONED.has(kind)) return `A ${kind === "voice" ? "voice note" : kind} carries no caption: clear it or send as another kind.`;
  return null;
}

function failure(error) {
  if (error instanceof ApiError && error.code === "media_too_large") return `Not sent: the file is too large. ${error.message}`;
  return `Not sent: ${error.message}`;
}

// onSent(clientId, answer, {kind, fileName, caption}) is told of each accepted send.
export function setUpFileSending(chosenClient, onSent) {
  const form = $("#file-form");
  const input = $("#file-input");
  input.addEventListener("change", () => {
    $("#file-error").textContent = "";
    if (input.files[0]) form.kind.value = guessKind(input.files[0]);
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const clientId = chosenClient();
    const to = $("#send-to").value.trim();
    const file = input.files[0];
    const kind = form.kind.value;
    const caption = form.caption.value.trim();
    const error = $("#file-error");
    error.textContent = problem(to, file, kind, caption) || "";
    if (error.textContent) return;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    announce(`Uploading ${file.name}\u2026`);
    try {
      const answer = await sendFile(clientId, to, file, { kind, caption });
      onSent(clientId, answer, { kind, fileName: file.name, caption: CAPTIONED.has(kind) ? caption : "" });
      form.reset();
      announce(`${file.name} accepted.`);
    } catch (failed) {
      error.textContent = failure(failed);
    } finally {
      button.disabled = false;
    }
  });
}

const STATES = { pending: "downloading", failed: "download failed", too_large: "too large, not kept",
  skipped: "not downloaded (MEDIA_DOWNLOAD)" };

function size(bytes) {
  if (typeof bytes !== "number") return "";
  if (bytes < 1024) return `${bytes} bytes`;
  return bytes < 1048576 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1048576).toFixed(1)} MiB`;
}

// A message's file: kind and name, the name a link to its bytes once stored (a download: the server
// answers Content-Disposition: attachment, and the page never puts the file in itself).
export function mediaLine(media) {
  const name = media.fileName || "";
  const stored = media.url && /^https?:\/\//.test(media.url) && media.status === "stored";
  const label = name || `${media.kind} file`;
  const parts = [el("span", { class: "kind" }, media.kind), " "];
  parts.push(stored ? el("a", { href: media.url, download: name || true, "data-media": media.id }, label) : label);
  const facts = stored ? [size(media.size), "download"] : media.status ? [STATES[media.status] || media.status, media.reason] : [];
  const said = facts.filter(Boolean).join(", ");
  if (said) parts.push(el("span", { class: "meta" }, ` (${said})`));
  return el("p", { class: "file" }, parts);
}
