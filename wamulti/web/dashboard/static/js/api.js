// fetch() with the session: the cookie goes by itself (same origin); every change carries the CSRF token.
let csrfToken = null;
let onSignedOut = () => {};

export function useSession(token, signedOut) {
  csrfToken = token;
  if (signedOut) onSignedOut = signedOut;
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `The server answered ${status}.`);
    this.status = status;
    this.code = body ? body.error : null;
  }
}

export function api(method, path, body, { etag = null } = {}) {
  const headers = body === undefined ? {} : { "Content-Type": "application/json" };
  return call(method, path, headers, body === undefined ? undefined : JSON.stringify(body), etag);
}

// A file as the raw body (POST /api/media takes it so; the server sniffs the type, this one is only a hint).
export function upload(path, file) {
  return call("POST", path, { "Content-Type": file.type || "application/octet-stream" }, file, null);
}

async function call(method, path, headers, body, etag) {
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  if (etag) headers["If-None-Match"] = etag;
  const response = await fetch(path, { method, headers, body, credentials: "same-origin", cache: "no-store" });
  if (response.status === 304) return { notModified: true, etag };
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json() : null;
  if (!response.ok) {
    if (response.status === 401 && path !== "/dashboard/session") onSignedOut();
    throw new ApiError(response.status, data);
  }
  return { data, etag: response.headers.get("ETag"), status: response.status };
}

export const get = (path, options) => api("GET", path, undefined, options);
export const post = (path, body) => api("POST", path, body === undefined ? {} : body);
export const put = (path, body) => api("PUT", path, body);
export const del = (path) => api("DELETE", path);
export const q = (value) => encodeURIComponent(value);
