// Mesh video and audio: each browser connects to every other person in its part of the
// room (the main room or one breakout), signaling through the room socket
// (docs/websocket-protocol.md, "Media"). The person arriving offers; after breakouts open
// or close, the lower user id offers. ICE servers (STUN/TURN) come from the media endpoint.

import { api } from "./api.js";
import { el } from "./ui.js";

export class Mesh {
  constructor({ sessionId, me, send, tiles, note, nameOf }) {
    this.nameOf = nameOf;
    this.sessionId = sessionId;
    this.me = me;
    this.send = send;
    this.tiles = tiles;
    this.note = note;
    this.peers = new Map(); // user id -> { pc, tile, pending: [candidates] }
    this.local = null;
    this.config = null;
    this.disabled = false;
    this.wanted = { audio: true, video: true };
  }

  async prepare() {
    if (this.config) return this.config;
    try {
      const media = await api(`sessions/${this.sessionId}/media/`);
      if (media.mode !== "mesh") {
        this.disable("Video in this session needs a LiveKit client; chat and the rest of the room work here.");
        return null;
      }
      this.config = { iceServers: media.ice_servers || [] };
    } catch (error) {
      if (error.code === "sfu_required") {
        this.disable("Too many people for video here; chat and the rest of the room work.");
        return null;
      }
      this.config = { iceServers: [] };
    }
    if (!this.local) {
      try {
        this.local = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
      } catch {
        this.local = new MediaStream();
        this.showNote("No camera or microphone is available: you can see and hear the others.");
      }
      for (const track of this.local.getTracks()) track.enabled = this.wanted[track.kind];
      this.tile(this.me.id, `${this.me.username} (you)`, this.local, true);
    }
    return this.config;
  }

  disable(text) {
    this.disabled = true;
    this.showNote(text);
  }

  showNote(text) {
    this.note.textContent = text;
    this.note.hidden = false;
  }

  // My room.state: connect to everyone in my part of the room (I am the one arriving).
  async arrive(state) {
    if (!(await this.prepare()) || this.disabled) return;
    const mine = state.you.breakout ?? null;
    for (const person of state.participants) {
      if (person.id !== this.me.id && (person.breakout ?? null) === mine) this.call(person.id);
    }
  }

  // Breakouts opened or closed: drop who is no longer with me; the lower id calls the new ones.
  async regroup(state) {
    const mine = state.you.breakout ?? null;
    const together = new Set(state.participants.filter((p) => (p.breakout ?? null) === mine).map((p) => p.id));
    for (const id of [...this.peers.keys()]) if (!together.has(id)) this.leave(id);
    if (!(await this.prepare()) || this.disabled) return;
    for (const id of together) {
      if (id !== this.me.id && !this.peers.has(id) && this.me.id < id) this.call(id);
    }
  }

  connection(userId) {
    this.leave(userId, { keepTile: true });
    const pc = new RTCPeerConnection(this.config);
    const peer = { pc, pending: [], remoteSet: false };
    this.peers.set(userId, peer);
    for (const track of this.local.getTracks()) pc.addTrack(track, this.local);
    pc.addEventListener("icecandidate", (event) => {
      this.send({ type: "rtc.ice", to: userId, candidate: event.candidate ? event.candidate.toJSON() : { candidate: "" } });
    });
    pc.addEventListener("track", (event) => {
      const stream = event.streams[0] || new MediaStream([event.track]);
      this.tile(userId, this.nameOf(userId), stream, false);
    });
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState === "failed" && this.peers.get(userId) === peer && this.me.id < userId) this.call(userId);
    });
    return peer;
  }

  async call(userId) {
    const peer = this.connection(userId);
    const offer = await peer.pc.createOffer();
    await peer.pc.setLocalDescription(offer);
    this.send({ type: "rtc.offer", to: userId, sdp: peer.pc.localDescription.sdp });
  }

  async offer(frame) {
    if (!(await this.prepare()) || this.disabled) return;
    // An offer from someone I am connected to replaces that connection (they came back).
    const peer = this.connection(frame.from);
    await peer.pc.setRemoteDescription({ type: "offer", sdp: frame.sdp });
    await this.flush(peer);
    const answer = await peer.pc.createAnswer();
    await peer.pc.setLocalDescription(answer);
    this.send({ type: "rtc.answer", to: frame.from, sdp: peer.pc.localDescription.sdp });
  }

  async answer(frame) {
    const peer = this.peers.get(frame.from);
    if (!peer || peer.pc.signalingState !== "have-local-offer") return;
    await peer.pc.setRemoteDescription({ type: "answer", sdp: frame.sdp });
    await this.flush(peer);
  }

  async ice(frame) {
    const peer = this.peers.get(frame.from);
    if (!peer) return;
    if (!peer.remoteSet) {
      peer.pending.push(frame.candidate);
      return;
    }
    await this.addCandidate(peer, frame.candidate);
  }

  async flush(peer) {
    peer.remoteSet = true;
    for (const candidate of peer.pending.splice(0)) await this.addCandidate(peer, candidate);
  }

  async addCandidate(peer, candidate) {
    try {
      await peer.pc.addIceCandidate(candidate && candidate.candidate ? candidate : null);
    } catch {
      // A candidate for a connection already replaced: nothing to do.
    }
  }

  tile(userId, name, stream, mine) {
    let tile = this.tiles.querySelector(`[data-tile="${userId}"]`);
    if (!tile) {
      const video = el("video", { attrs: { autoplay: true, playsinline: true, "aria-label": `Video of ${name}` } });
      tile = el("figure", { className: "tile", attrs: { "data-tile": userId } }, [video, el("figcaption", { className: "tile-name", text: name })]);
      if (mine) this.tiles.prepend(tile);
      else this.tiles.append(tile);
    }
    const video = tile.querySelector("video");
    video.muted = mine; // never play back my own microphone
    if (video.srcObject !== stream) video.srcObject = stream;
    video.play().catch(() => {
      // Autoplay with sound refused until the person interacts: start muted, unmute on a click.
      video.muted = true;
      video.play().catch(() => {});
      if (!mine) this.showNote("Click anywhere to turn on the sound.");
      document.addEventListener("click", () => { video.muted = mine; }, { once: true });
    });
  }

  leave(userId, { keepTile = false } = {}) {
    if (userId === this.me.id) return; // my own tile stays while I am in the room
    const peer = this.peers.get(userId);
    if (peer) {
      peer.pc.close();
      this.peers.delete(userId);
    }
    if (!keepTile) this.tiles.querySelector(`[data-tile="${userId}"]`)?.remove();
  }

  // Camera or microphone on/off; returns the new state.
  toggle(kind) {
    return this.set(kind, !this.wanted[kind]);
  }

  set(kind, on) {
    this.wanted[kind] = on;
    if (this.local) for (const track of this.local.getTracks()) if (track.kind === kind) track.enabled = on;
    return on;
  }

  stop() {
    for (const id of [...this.peers.keys()]) this.leave(id);
    if (this.local) for (const track of this.local.getTracks()) track.stop();
    this.local = null;
    this.tiles.replaceChildren();
  }
}
