// A websocket that reconnects by itself: each attempt asks for a new single-use ticket
// (with the session cookie), backs off up to 10 s, and reports its state so the page can
// show "Reconnecting…". Close codes that mean "do not retry" stop it.

import { realtimeTicket } from "./api.js";

const FINAL_CODES = new Set([1000, 4000, 4401, 4403, 4404, 4429]);
const PING_SECONDS = 20;

export class LiveSocket {
  constructor(path, { onOpen, onFrame, onState, onFinal } = {}) {
    this.path = path;
    this.onOpen = onOpen || (() => {});
    this.onFrame = onFrame || (() => {});
    this.onState = onState || (() => {});
    this.onFinal = onFinal || (() => {});
    this.ws = null;
    this.attempt = 0;
    this.stopped = false;
    this.pinger = null;
    this.retryTimer = null;
    this.dropped = null;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  async connect() {
    this.onState(this.attempt === 0 ? "connecting" : "reconnecting");
    let ticket;
    try {
      ticket = await realtimeTicket();
    } catch (error) {
      if (error.status === 401 || error.status === 403) {
        this.stop();
        this.onFinal(4401);
        return;
      }
      this.retry();
      return;
    }
    if (this.stopped) return;
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${window.location.host}${this.path}?ticket=${encodeURIComponent(ticket)}`);
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.attempt = 0;
      this.onState("open");
      this.onOpen();
      this.pinger = window.setInterval(() => this.send({ type: "ping" }), PING_SECONDS * 1000);
    });
    ws.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onFrame(frame);
    });
    ws.addEventListener("close", (event) => {
      window.clearInterval(this.pinger);
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      // The server echoes our own close's code (or 1000): a drop we caused is not final.
      if (FINAL_CODES.has(event.code) && this.dropped !== ws) {
        this.stopped = true;
        this.onState("closed");
        this.onFinal(event.code);
        return;
      }
      this.retry();
    });
  }

  retry() {
    if (this.stopped) return;
    this.attempt += 1;
    this.onState("reconnecting");
    const delay = Math.min(10000, 500 * 2 ** Math.min(this.attempt - 1, 5)) * (0.75 + Math.random() / 2);
    this.retryTimer = window.setTimeout(() => this.connect(), delay);
  }

  send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  get isOpen() {
    return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN);
  }

  // A dropped network, as the browser sees it: the socket goes away without the server's
  // say, and the client reconnects (used by the browser tests too).
  drop() {
    if (!this.ws) return;
    this.dropped = this.ws;
    this.ws.close(4999, "dropped");
  }

  stop() {
    this.stopped = true;
    window.clearTimeout(this.retryTimer);
    window.clearInterval(this.pinger);
    if (this.ws) this.ws.close(1000);
    this.ws = null;
  }
}
