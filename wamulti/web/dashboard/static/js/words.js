// lastError values (docs/api.md) said in words; the raw value stays visible next to them.
const SENTENCES = [
  ["connect_failed", "Cannot reach WhatsApp; it keeps trying."],
  ["disconnected", "The connection dropped; it reconnects by itself."],
  ["waiting_for_network", "The network is down; it dials again once the network is back."],
  ["dialling_paused", "Dialling is paused after many failed dials; restart the service to dial again."],
  ["keepalive_timeout", "WhatsApp did not answer keepalive pings."],
  ["logged_out: 401", "The phone removed this device (Linked devices). Pair again."],
  ["logged_out: 403", "WhatsApp locked this account."],
  ["logged_out: 406", "WhatsApp banned this account."],
  ["logged_out", "WhatsApp logged this device out. Pair again."],
  ["temporary_ban", "WhatsApp banned this account for a while; it reconnects by itself when the ban ends."],
  ["connect_failure: 5", "WhatsApp had a server problem; it keeps trying."],
  ["connect_failure", "WhatsApp refused the connection; re-pair to try again."],
  ["pairing_expired", "The pairing code expired before it was used. Ask for a new code."],
  ["pairing_timeout", "No phone was linked in time. Ask for a new code."],
  ["pairing_failed", "Pairing failed. Ask for a new code."],
  ["no_phone_number", "No phone number to pair with."],
  ["pairing_incomplete", "The server restarted before pairing finished. Pair again."],
  ["session_missing", "The stored session is gone. Delete and pair again."],
  ["stream_replaced", "Another connection with the same session took over."],
  ["client_outdated", "WhatsApp says this client version is too old."],
  ["internal_error", "An internal error; see the server log."],
];

export function errorInWords(lastError) {
  if (!lastError) return null;
  const found = SENTENCES.find(([prefix]) => lastError.startsWith(prefix));
  return found ? found[1] : "Problem reported by the client.";
}

export const UNLINKED_MEANS = "Deleting removes the account from this server: its row, its stored keys and its " +
  "session file. First the server logs the device out at WhatsApp, so the phone stops listing it under " +
  "Linked devices (\u201cunlinked\u201d). If that cannot be done (offline, never linked, no answer within 8 s), " +
  "the account is still deleted here, but the phone keeps listing the device until you remove it there.";
