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

export async function api(method, path, body, { etag = null } = {}) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  if (etag) headers["If-None-Match"] = etag;
  const response = await fetch(path, {
    method, headers, credentials: "same-origin", cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
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
