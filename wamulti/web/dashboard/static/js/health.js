// The health view: the figures of /healthz and /metrics as GET /api/dashboard answers them.
import { $, el } from "./dom.js";
import { state } from "./state.js";

function mib(bytes) {
  return bytes === null || bytes === undefined ? "\u2014" : `${(bytes / 1048576).toFixed(1)} MiB`;
}

export function renderHealth() {
  const h = state.health;
  if (!h) return;
  const figures = [
    ["Store", `${h.store}: ${h.storeOk ? "reachable" : "UNREACHABLE"}`],
    ["Snapshots behind", String(h.snapshots.behind)],
    ["Largest snapshot lag", `${h.snapshots.maxLagSeconds} s`],
    ["Webhook backlog (held in memory)", h.webhookBacklog ? String(h.webhookBacklog.held) : "\u2014"],
    ["Accounts waiting for a delivery lane", h.webhookBacklog ? String(h.webhookBacklog.pendingClients) : "\u2014"],
    ["Process memory (resident)", mib(h.residentMemoryBytes)],
    ["Accounts", String(state.clients.length)],
  ];
  $("#health-figures").replaceChildren(...figures.map(([name, value]) => el("div", {}, el("dt", {}, name), el("dd", {}, value))));
}
