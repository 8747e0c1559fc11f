// Calls to the API (/api/v1/) with the session cookie and the CSRF header. No token is
// ever kept where scripts can read it: the cookie is HttpOnly, the CSRF token comes
// from the page's <meta name="csrf-token">.

export class ApiError extends Error {
  constructor(status, code, message, fields) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields || {};
  }
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

export async function api(path, { method = "GET", body, headers = {} } = {}) {
  const init = {
    method,
    credentials: "same-origin",
    headers: { Accept: "application/json", ...headers },
  };
  if (method !== "GET" && method !== "HEAD") {
    init.headers["X-CSRFToken"] = csrfToken();
  }
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`/api/v1/${path}`, init);
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    if (response.status === 401) {
      window.location.assign(`/signin/?next=${encodeURIComponent(window.location.pathname)}`);
    }
    throw new ApiError(response.status, error.code || "error", error.message || `HTTP ${response.status}`, error.fields);
  }
  return data;
}

// A single-use ticket for one websocket handshake, asked for with the session cookie.
export async function realtimeTicket() {
  const { ticket } = await api("realtime/ticket/", { method: "POST" });
  return ticket;
}

// The signed-in person, from the page (rendered by Django from the session).
export function me() {
  const data = document.body.dataset;
  return {
    id: Number(data.userId),
    username: data.username,
    role: data.role,
    timeZone: data.timeZone || Intl.DateTimeFormat().resolvedOptions().timeZone,
  };
}
