// Live wall: each visible tile watches its camera's sub stream over WebRTC (H.264 passed through by the server);
// a click shows one camera large from its main stream. Where WebRTC cannot connect, still pictures refresh instead.
// A camera that drops says why and is tried again by itself (soon at first, then every RETRY_MS); the page also
// follows the recorder's camera states, so a tile whose camera comes back plays again without a reload.
(() => {
  "use strict";
  const root = document.getElementById("live");
  if (!root) return;
  const LAYOUTS = [1, 4, 9, 16];
  const LAYOUT_KEY = "matthan.live.layout";
  const SNAPSHOT_EVERY_MS = 3000;
  const CONNECT_TIMEOUT_MS = 15000;
  const ICE_GATHER_MS = 3000;
  const STALL_CHECK_MS = 2000; // no frame decoded for one check: say so; for STALL_CHECKS: connect again
  const STALL_CHECKS = 2;
  // Waits before trying live again after a failure, the last one repeating: short at first, since a camera that
  // drops is often back within seconds (a reboot, a network blip); the server asks a down camera at most every 5 s
  // however many walls retry.
  const RETRY_MS = [3000, 5000, 10000, 15000];
  // A camera the recorder also sees down (the state poll says when it is back), one that refused us (a wrong
  // password is not fixed by waiting) and pictures instead of live video: try live again this rarely.
  const RETRY_SLOW_MS = 60000;
  const SLOW_REASONS = new Set(["auth_failed", "unsupported_stream"]);
  const STATES_EVERY_MS = 5000;
  const wall = document.getElementById("live-wall");
  const large = document.getElementById("live-large");
  const largeTile = document.getElementById("large-tile");
  const tiles = Array.from(wall.querySelectorAll(".tile"));
  const players = new Map();
  // camera → {status, detail} as the recorder last reported it: rendered with the page, then polled
  const states = new Map(tiles.map((tile) => [tile.dataset.camera,
    { status: tile.dataset.status, detail: tile.querySelector(".tile-state").title }]));
  let layout = 4;
  let page = 0;

  const reasonWords = (reason) => (reason && root.dataset["status" + reason.split("_").map(
    (w) => w.charAt(0).toUpperCase() + w.slice(1)).join("")]) || "";

  function say(tile, mode, lines, title) {
    // lines: a headline (bold when more follow), then plain lines
    const state = tile.querySelector(".tile-state");
    const shown = lines.filter(Boolean);
    tile.dataset.mode = mode;
    state.replaceChildren(...shown.flatMap((line, i) => {
      const strong = i === 0 && shown.length > 1 ? document.createElement("strong") : null;
      if (strong) strong.textContent = line;
      return i ? [document.createElement("br"), line] : [strong || line];
    }));
    state.title = title || "";
    tile.querySelector(".mode").textContent =
      mode === "webrtc" ? root.dataset.webrtc : mode === "snapshot" ? root.dataset.snapshot : "";
  }

  function gathered(pc) {
    // non-trickle: the offer goes out with every candidate in it
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { pc.removeEventListener("icegatheringstatechange", check); resolve(); };
      const check = () => { if (pc.iceGatheringState === "complete") done(); };
      pc.addEventListener("icegatheringstatechange", check);
      setTimeout(done, ICE_GATHER_MS);
    });
  }

  const asDataUrl = (blob) => new Promise((resolve, reject) => { // the page's CSP allows data: pictures, not blob:
    const reader = new FileReader();
    Object.assign(reader, { onload: () => resolve(reader.result), onerror: () => reject(reader.error) });
    reader.readAsDataURL(blob);
  });

  class Player {
    constructor(tile, camera, stream) {
      this.tile = tile;
      this.camera = camera;
      this.stream = stream;
      this.video = tile.querySelector("video");
      this.img = tile.querySelector("img.snapshot");
      this.pc = null;
      this.timers = [];
      this.stopped = false;
      this.run = 0; // bumped by every start/stop: callbacks of an earlier run are ignored
      this.failures = 0; // live attempts failed in a row (reset once frames are decoded)
      this.wasLive = false; // this tile has shown live frames: WebRTC works from this browser
      this.waiting = false; // down or on pictures: a camera coming back (state poll) is tried at once
    }

    reset() {
      this.run += 1;
      this.waiting = false;
      this.timers.forEach((t) => { clearTimeout(t); clearInterval(t); });
      this.timers = [];
      const pc = this.pc;
      this.pc = null; // first: its late events are then ignored
      if (pc) pc.close();
      this.video.srcObject = null;
      return this.run;
    }

    showVideo(video) {
      // the video element, or the still picture (kept while live video is tried again from pictures)
      this.video.hidden = !video;
      this.img.hidden = video;
      if (video) this.img.removeAttribute("src");
    }

    async start(quiet) {
      // quiet: from pictures, which stay on show until live video connects
      if (this.stopped) return;
      const run = this.reset();
      if (!quiet) {
        this.showVideo(true);
        say(this.tile, "connecting", [root.dataset.connecting]);
      }
      if (!window.RTCPeerConnection) { this.pictures(""); return; }
      let pc;
      try {
        pc = new RTCPeerConnection({ iceServers: [] });
        this.pc = pc;
        this.tile.livePc = pc; // read by the browser tests (getStats)
        const transceiver = pc.addTransceiver("video", { direction: "recvonly" });
        const caps = window.RTCRtpReceiver && RTCRtpReceiver.getCapabilities && RTCRtpReceiver.getCapabilities("video");
        if (caps && transceiver.setCodecPreferences) {
          const h264 = caps.codecs.filter((c) => c.mimeType.toLowerCase() === "video/h264" &&
            /packetization-mode=1/.test(c.sdpFmtpLine || ""));
          if (h264.length) transceiver.setCodecPreferences(h264);
        }
        pc.addEventListener("track", (event) => {
          this.video.srcObject = event.streams[0] || new MediaStream([event.track]);
          this.video.play().catch(() => {});
        });
        let connected = false;
        pc.addEventListener("connectionstatechange", () => {
          if (this.pc !== pc) return;
          if (pc.connectionState === "connected") {
            this.showVideo(true);
            say(this.tile, "webrtc", []);
            if (!connected) this.watch(pc);
            connected = true;
          } else if (["failed", "closed"].includes(pc.connectionState)) this.dropped(connected);
        });
        await pc.setLocalDescription(await pc.createOffer());
        await gathered(pc);
      } catch (error) {
        if (this.run === run) this.pictures("", String(error)); // this browser cannot do it
        return;
      }
      let answer;
      try {
        answer = await fetch(`/api/live/${encodeURIComponent(this.camera)}/offer`, {
          method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ sdp: pc.localDescription.sdp, type: "offer", stream: this.stream }),
        });
      } catch (error) {
        if (this.run === run) this.down("", String(error)); // the server cannot be reached (restarting?)
        return;
      }
      if (this.run !== run) return;
      if (!answer.ok) {
        const body = await answer.json().catch(() => ({}));
        if (this.run !== run) return;
        // 422: the server cannot take this browser's offer (no H.264); a camera not sending H.264 still has
        // pictures. Anything else (camera down, refused; logged out, server trouble) waits and tries again.
        if (answer.status === 422 || body.reason === "unsupported_stream") {
          this.pictures(body.reason || "", body.detail || "");
        } else this.down(body.reason || "", body.detail || `HTTP ${answer.status}`);
        return;
      }
      try {
        await pc.setRemoteDescription({ type: "answer", sdp: (await answer.json()).sdp });
      } catch (error) {
        if (this.run === run) this.pictures("", String(error));
        return;
      }
      this.timers.push(setTimeout(() => {
        if (this.pc === pc && pc.connectionState !== "connected") this.dropped(false);
      }, CONNECT_TIMEOUT_MS));
    }

    watch(pc) {
      // frames stopping while the connection stays up means the camera stopped sending: say so, then connect again
      let last = -1;
      let still = 0;
      this.timers.push(setInterval(async () => {
        if (this.pc !== pc) return;
        const stats = await pc.getStats().catch(() => null);
        if (this.pc !== pc || !stats) return;
        let decoded = 0;
        stats.forEach((s) => { if (s.type === "inbound-rtp" && s.kind === "video") decoded = s.framesDecoded || 0; });
        // a lone frame amid a stall is a late one (a retransmission, the jitter buffer giving up), not the camera
        still = decoded === last || (still > 0 && decoded === last + 1) ? still + 1 : 0;
        last = decoded;
        if (still === 0 && decoded > 0) {
          this.failures = 0;
          this.wasLive = true;
          if (this.tile.dataset.mode !== "webrtc") say(this.tile, "webrtc", []);
        } else if (still >= STALL_CHECKS) this.dropped(true);
        else if (still > 0) say(this.tile, "connecting", [root.dataset.connecting]);
      }, STALL_CHECK_MS));
    }

    dropped(connected) {
      // the connection failed, closed (the server hangs up when the camera stops) or froze
      if (this.stopped) return;
      if (!connected && !this.wasLive) { this.pictures(""); return; } // WebRTC cannot get through from here
      if (this.failures === 0) {
        this.failures = 1;
        this.start(); // at once: the offer's answer says whether the camera is there
      } else this.down("", "");
    }

    retryDelay(reason) {
      const state = states.get(this.camera);
      if (SLOW_REASONS.has(reason) || (state && state.status !== "online")) return RETRY_SLOW_MS;
      return RETRY_MS[Math.min(this.failures, RETRY_MS.length - 1)];
    }

    down(reason, detail) {
      // the camera cannot be watched now: say why, and try again by itself
      if (this.stopped) return;
      this.reset();
      this.showVideo(true);
      const delay = this.retryDelay(reason);
      this.failures += 1;
      this.waiting = true;
      const headline = reason === "offline" ? root.dataset.offline : root.dataset.unavailable;
      say(this.tile, "unavailable", [headline, reasonWords(reason), root.dataset.resumes], detail);
      this.timers.push(setTimeout(() => this.start(), delay));
    }

    pictures(reason, detail) {
      // live video cannot connect but the camera may be fine: a still picture every few seconds
      if (this.stopped) return;
      const run = this.reset();
      this.waiting = true;
      this.video.hidden = true;
      if (this.img.hidden) say(this.tile, "snapshot", [root.dataset.connecting], detail);
      const url = `/media/live/${encodeURIComponent(this.camera)}/snapshot.jpg`;
      let busy = false;
      const refresh = async () => {
        if (busy || this.run !== run) return;
        busy = true;
        try {
          const answer = await fetch(`${url}?t=${Date.now()}`, { credentials: "same-origin", cache: "no-store" });
          const picture = answer.ok ? await asDataUrl(await answer.blob()) : null;
          if (this.run !== run) return;
          if (!picture) {
            // no picture either: the camera is down (503) or cannot be shown at all; the next live try says why
            const why = await answer.text().catch(() => "");
            if (this.run === run) this.down(reason || (answer.status === 503 ? "offline" : ""), why);
            return;
          }
          this.img.src = picture;
          this.img.hidden = false;
          say(this.tile, "snapshot", [], detail);
        } catch (error) {
          if (this.run === run) this.down("", String(error));
        } finally {
          busy = false;
        }
      };
      refresh();
      this.timers.push(setInterval(refresh, SNAPSHOT_EVERY_MS));
      this.timers.push(setTimeout(() => this.start(true), RETRY_SLOW_MS));
    }

    stateChanged(before, now) {
      // the recorder sees the camera back: try live now rather than at the next retry
      if (this.waiting && now === "online" && before !== "online") {
        this.failures = 0;
        this.start(!this.img.hidden);
      }
    }

    stop() {
      this.stopped = true;
      this.reset();
      this.showVideo(true);
      if (!this.tile.classList.contains("offline")) say(this.tile, "idle", []);
    }
  }

  function markOffline(tile) {
    // as the server renders it: the recorder's words for the camera's state; no live attempt, no click
    const { status, detail } = states.get(tile.dataset.camera);
    tile.classList.add("offline");
    tile.removeAttribute("tabindex");
    tile.removeAttribute("role");
    say(tile, "offline", [root.dataset.offline, reasonWords(status), root.dataset.resumes], detail);
  }

  function markOnline(tile) {
    tile.classList.remove("offline");
    tile.tabIndex = 0;
    tile.setAttribute("role", "button");
    say(tile, "idle", []);
  }

  function play(tile) {
    const player = new Player(tile, tile.dataset.camera, "sub");
    players.set(tile, player);
    player.start();
  }

  function stopAll() {
    players.forEach((player) => player.stop());
    players.clear();
  }

  const playable = (tile) => states.get(tile.dataset.camera).status === "online";

  function setState(camera, status, detail) {
    const known = states.get(camera);
    if (!known) return; // a camera enabled since the page loaded: it shows after a reload
    const before = known.status;
    states.set(camera, { status, detail });
    if (before === status) return;
    players.forEach((player) => { if (player.camera === camera) player.stateChanged(before, status); });
    const tile = tiles.find((t) => t.dataset.camera === camera);
    tile.dataset.status = status;
    if (players.has(tile)) return; // playing: its own frames say more than the recorder's view
    if (status !== "online") markOffline(tile);
    else {
      markOnline(tile);
      if (!tile.hidden && large.hidden) play(tile);
    }
  }

  async function pollStates() {
    if (document.hidden) return;
    const answer = await fetch("/api/live/cameras", { credentials: "same-origin", cache: "no-store" })
      .catch(() => null);
    const body = answer && answer.ok ? await answer.json().catch(() => null) : null;
    if (!body) return; // the server is restarting, say: the next round asks again
    body.cameras.forEach((c) => setState(c.camera, c.status, c.detail));
  }

  function showWall() {
    stopAll();
    const pages = Math.max(1, Math.ceil(tiles.length / layout));
    page = Math.min(page, pages - 1);
    wall.dataset.layout = String(layout);
    document.querySelectorAll(".live-layouts .layout").forEach((b) => {
      b.setAttribute("aria-pressed", String(Number(b.dataset.layout) === layout));
    });
    const label = document.getElementById("live-page");
    label.textContent = label.dataset.label.replace("{page}", page + 1).replace("{pages}", pages);
    document.getElementById("live-pager").hidden = pages < 2;
    tiles.forEach((tile, i) => {
      const visible = i >= page * layout && i < (page + 1) * layout;
      tile.hidden = !visible;
      if (!visible) return;
      if (playable(tile)) {
        if (tile.classList.contains("offline")) markOnline(tile);
        play(tile);
      } else if (!tile.classList.contains("offline")) markOffline(tile);
    });
  }

  function showLarge(tile) {
    stopAll();
    wall.hidden = true;
    document.getElementById("live-pager").hidden = true;
    large.hidden = false;
    largeTile.dataset.camera = tile.dataset.camera;
    largeTile.querySelector(".name").textContent = tile.querySelector(".name").textContent;
    const player = new Player(largeTile, tile.dataset.camera, "main");
    players.set(largeTile, player);
    player.start();
  }

  function backToWall() {
    large.hidden = true;
    wall.hidden = false;
    showWall();
  }

  const saved = Number(localStorage.getItem(LAYOUT_KEY));
  layout = LAYOUTS.includes(saved) ? saved : (LAYOUTS.find((n) => n >= tiles.length) || 16);
  document.querySelectorAll(".live-layouts .layout").forEach((button) => {
    button.addEventListener("click", () => {
      layout = Number(button.dataset.layout);
      localStorage.setItem(LAYOUT_KEY, String(layout));
      page = 0;
      if (large.hidden) showWall();
    });
  });
  document.getElementById("live-prev").addEventListener("click", () => { if (page > 0) { page -= 1; showWall(); } });
  document.getElementById("live-next").addEventListener("click", () => {
    if ((page + 1) * layout < tiles.length) { page += 1; showWall(); }
  });
  tiles.forEach((tile) => {
    const open = () => { if (!tile.classList.contains("offline")) showLarge(tile); };
    tile.addEventListener("click", open);
    tile.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") open(); });
  });
  document.getElementById("live-back").addEventListener("click", backToWall);
  document.addEventListener("keydown", (event) => { if (event.key === "Escape" && !large.hidden) backToWall(); });
  setInterval(pollStates, STATES_EVERY_MS);
  window.addEventListener("pagehide", stopAll);
  window.addEventListener("pageshow", (event) => { if (event.persisted) backToWall(); }); // back from the history
  showWall();
})();
