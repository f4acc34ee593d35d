// What the page knows: the overview (clients, health) and the latest events, kept by the poller.
export const state = {
  role: null, keyId: null,
  clients: [],        // from GET /api/dashboard
  health: null,
  events: [],         // the latest events of the log, oldest first (at most KEEP)
  cursor: null,       // the last event id seen: the next poll asks for events after it
  listeners: new Set(),
};
export const KEEP = 500;

export function changed(what) {
  for (const listener of state.listeners) listener(what);
}

export function onChange(listener) {
  state.listeners.add(listener);
}

export function addEvents(events) {
  if (!events.length) return;
  state.events.push(...events);
  if (state.events.length > KEEP) state.events.splice(0, state.events.length - KEEP);
  state.cursor = events[events.length - 1].id;
}

export const clientIds = () => state.clients.map((c) => c.clientId);
