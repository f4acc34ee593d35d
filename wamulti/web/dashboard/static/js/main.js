// The dashboard's entry point: sign-in, the views (by URL hash), and the poll that keeps them live.
import { renderAccounts, setUpCreate } from "./accounts.js";
import { api, get, useSession } from "./api.js";
import { refreshSends, renderConversations, setUpSending } from "./conversations.js";
import { refreshDeliveries, renderDeliveries, setUpDeliveries } from "./deliveries.js";
import { $, announce } from "./dom.js";
import { renderHealth } from "./health.js";
import { startTicking } from "./pairing.js";
import { addEvents, state } from "./state.js";

const VIEWS = ["accounts", "conversations", "deliveries", "health"];
// one poll: GET /api/dashboard (304 while unchanged); in the conversations and deliveries views also
// the events after the cursor (docs/dashboard.md, "Live updates")
const POLL_MS = 2000;
const EVENT_PAGES_PER_POLL = 5;
let etag = null;
let timer = null;

function currentView() {
  const name = location.hash.slice(1).split("/")[0];
  return VIEWS.includes(name) ? name : "accounts";
}

function show(view, { focus = false } = {}) {
  if (state.role !== null) refreshNow(); // a view that needs events gets them at once
  for (const name of ["signin", ...VIEWS]) $(`#view-${name}`).hidden = name !== view;
  for (const link of document.querySelectorAll("#tabs a")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  const wanted = decodeURIComponent(location.hash.split("/")[1] || "");
  if (view === "conversations" && wanted && state.clients.some((c) => c.clientId === wanted)) {
    renderConversations();
    $("#conv-client").value = wanted;
  }
  render(view);
  if (focus) $(`#view-${view} h1`).focus();
}

function render(view) {
  if (view === "accounts") renderAccounts();
  else if (view === "conversations") renderConversations();
  else if (view === "deliveries") renderDeliveries();
  else if (view === "health") renderHealth();
}

async function pollEvents() {
  for (let page = 0; page < EVENT_PAGES_PER_POLL; page++) {
    const after = state.cursor ? `&after=${encodeURIComponent(state.cursor)}` : "";
    const { data } = await get(`/api/events?limit=1000${after}`);
    addEvents(data.events);
    if (!data.next) return;
  }
}

async function poll() {
  const answer = await get("/api/dashboard", { etag });
  if (!answer.notModified) {
    etag = answer.etag;
    state.clients = answer.data.clients;
    state.health = answer.data.health;
  }
  const view = currentView();
  if (view === "conversations" || view === "deliveries") await pollEvents(); // the other views need no events
  if (view === "conversations") await refreshSends();
  if (view === "deliveries") await refreshDeliveries();
  render(view);
}

// setTimeout after each poll ends (never two at once); nothing while the tab is hidden.
let running = false;
let again = false; // asked for while a poll was under way: poll again right after it

async function loop() {
  timer = null;
  if (running) { again = true; return; }
  if (state.role === null) return;
  running = true;
  if (document.visibilityState === "visible") {
    try {
      await poll();
    } catch (error) {
      if (state.role !== null) announce(`Could not refresh: ${error.message}`);
    }
  }
  running = false;
  // +-10 %: pages opened together (a shared screen, a restart of the browser) drift apart
  const wait = again ? 0 : POLL_MS * (0.9 + Math.random() * 0.2);
  again = false;
  if (state.role !== null && timer === null) timer = window.setTimeout(loop, wait);
}

function refreshNow() {
  if (timer !== null) window.clearTimeout(timer);
  return loop();
}

function signedIn(session) {
  state.role = session.role;
  state.keyId = session.keyId;
  useSession(session.csrfToken, signedOut);
  $("#who-text").textContent = session.role === "admin" ? "Signed in with the admin key" : `Signed in with key ${session.keyId}`;
  $("#who").hidden = false;
  $("#tabs").hidden = false;
  show(currentView());
}

function signedOut() {
  state.role = null;
  state.clients = []; state.events = []; state.cursor = null; etag = null;
  useSession(null);
  $("#who").hidden = true;
  $("#tabs").hidden = true;
  show("signin");
  $("#signin-key").focus();
}

async function signIn(event) {
  event.preventDefault();
  const key = $("#signin-key");
  $("#signin-error").textContent = "";
  try {
    const { data } = await api("POST", "/dashboard/session", { key: key.value });
    key.value = "";
    signedIn(data);
  } catch (error) {
    $("#signin-error").textContent = error.status === 401 ? "That key is not valid (wrong, or revoked)." : error.message;
  }
}

async function start() {
  $("#signin-form").addEventListener("submit", signIn);
  $("#sign-out").addEventListener("click", async () => {
    try { await api("DELETE", "/dashboard/session"); } finally { signedOut(); }
  });
  window.addEventListener("hashchange", () => state.role && show(currentView(), { focus: true }));
  document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && state.role && refreshNow());
  setUpCreate(refreshNow);
  setUpSending(refreshNow);
  setUpDeliveries();
  startTicking();
  for (const h1 of document.querySelectorAll("main h1")) h1.tabIndex = -1;
  const { data } = await get("/dashboard/session");
  if (data.signedIn) signedIn(data); else signedOut();
}

start();
