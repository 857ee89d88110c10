// Live wall: each visible tile watches its camera's sub stream over WebRTC (H.264 passed through by the server);
// a click shows one camera large from its main stream. Where WebRTC cannot connect, still pictures refresh instead.
(() => {
  "use strict";
  const root = document.getElementById("live");
  if (!root) return;
  const LAYOUTS = [1, 4, 9, 16];
  const LAYOUT_KEY = "matthan.live.layout";
  const SNAPSHOT_EVERY_MS = 3000;
  const CONNECT_TIMEOUT_MS = 15000;
  const ICE_GATHER_MS = 3000;
  const STALL_CHECK_MS = 4000;
  const STALL_CHECKS = 2;
  const RETRY_LIVE_MS = 30000;
  const wall = document.getElementById("live-wall");
  const large = document.getElementById("live-large");
  const largeTile = document.getElementById("large-tile");
  const tiles = Array.from(wall.querySelectorAll(".tile"));
  const players = new Map();
  let layout = 4;
  let page = 0;

  const reasonWords = (reason) => (reason && root.dataset["status" + reason.split("_").map(
    (w) => w.charAt(0).toUpperCase() + w.slice(1)).join("")]) || "";

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

  class Player {
    constructor(tile, camera, stream) {
      this.tile = tile;
      this.camera = camera;
      this.stream = stream;
      this.video = tile.querySelector("video");
      this.img = tile.querySelector("img.snapshot");
      this.state = tile.querySelector(".tile-state");
      this.modeLabel = tile.querySelector(".mode");
      this.pc = null;
      this.timers = [];
      this.stopped = false;
    }

    show(mode, text) {
      this.tile.dataset.mode = mode;
      this.state.textContent = text || "";
      this.modeLabel.textContent = mode === "webrtc" ? root.dataset.webrtc : mode === "snapshot" ? root.dataset.snapshot : "";
    }

    async start() {
      this.show("connecting", root.dataset.connecting);
      if (!window.RTCPeerConnection) { this.fallback(""); return; }
      try {
        const pc = new RTCPeerConnection({ iceServers: [] });
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
        pc.addEventListener("connectionstatechange", () => {
          if (this.pc !== pc) return;
          if (pc.connectionState === "connected") {
            this.show("webrtc", "");
            this.watch(pc);
          } else if (pc.connectionState === "failed") this.fallback("");
          else if (pc.connectionState === "closed") this.restart(); // the server hung up: the camera went away
        });
        await pc.setLocalDescription(await pc.createOffer());
        await gathered(pc);
        const answer = await fetch(`/api/live/${encodeURIComponent(this.camera)}/offer`, {
          method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ sdp: pc.localDescription.sdp, type: "offer", stream: this.stream }),
        });
        if (this.stopped || this.pc !== pc) return;
        if (!answer.ok) {
          const body = await answer.json().catch(() => ({}));
          this.fallback(body.reason || "", body.detail || "");
          return;
        }
        await pc.setRemoteDescription({ type: "answer", sdp: (await answer.json()).sdp });
        this.timers.push(setTimeout(() => {
          if (this.pc === pc && pc.connectionState !== "connected") this.fallback("");
        }, CONNECT_TIMEOUT_MS));
      } catch (error) {
        if (!this.stopped) this.fallback("", String(error));
      }
    }

    watch(pc) {
      // frames stopping while the connection stays up means the camera stopped sending: connect again
      let last = -1;
      let still = 0;
      this.timers.push(setInterval(async () => {
        if (this.pc !== pc) return;
        let decoded = 0;
        (await pc.getStats()).forEach((s) => { if (s.type === "inbound-rtp" && s.kind === "video") decoded = s.framesDecoded; });
        still = decoded === last ? still + 1 : 0;
        last = decoded;
        if (still >= STALL_CHECKS) this.restart();
      }, STALL_CHECK_MS));
    }

    restart() {
      if (this.stopped) return;
      this.clearTimers();
      this.closePc();
      this.img.hidden = true;
      this.video.hidden = false;
      this.start();
    }

    clearTimers() {
      this.timers.forEach((t) => { clearTimeout(t); clearInterval(t); });
      this.timers = [];
    }

    fallback(reason, detail) {
      this.clearTimers();
      this.closePc();
      if (this.stopped) return;
      this.video.hidden = true;
      const why = reasonWords(reason);
      this.show("snapshot", root.dataset.connecting);
      if (detail) this.state.title = detail;
      const url = `/media/live/${encodeURIComponent(this.camera)}/snapshot.jpg`;
      this.img.onload = () => {
        if (this.stopped) return;
        this.img.hidden = false;
        this.show("snapshot", "");
      };
      this.img.onerror = () => {
        if (this.stopped) return;
        this.img.hidden = true;
        this.show("unavailable", root.dataset.unavailable + (why ? ": " + why : ""));
      };
      const refresh = () => { this.img.src = `${url}?t=${Date.now()}`; };
      refresh();
      this.timers.push(setInterval(refresh, SNAPSHOT_EVERY_MS));
      // the camera was the problem (unreachable, refused), not the browser or the network: try live again later
      if (reason) this.timers.push(setTimeout(() => this.restart(), RETRY_LIVE_MS));
    }

    closePc() {
      const pc = this.pc;
      this.pc = null; // first: its late events are then ignored
      if (pc) pc.close();
      this.video.srcObject = null;
    }

    stop() {
      this.stopped = true;
      this.clearTimers();
      this.closePc();
      this.img.onload = this.img.onerror = null;
      this.img.removeAttribute("src");
      this.img.hidden = true;
      this.video.hidden = false;
      if (this.tile.dataset.mode !== "offline") this.show("idle", "");
    }
  }

  function stopAll() {
    players.forEach((player) => player.stop());
    players.clear();
  }

  function playable(tile) {
    return !tile.classList.contains("offline");
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
      if (visible && playable(tile)) {
        const player = new Player(tile, tile.dataset.camera, "sub");
        players.set(tile, player);
        player.start();
      }
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
    if (!playable(tile)) return;
    tile.addEventListener("click", () => showLarge(tile));
    tile.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") showLarge(tile); });
  });
  document.getElementById("live-back").addEventListener("click", backToWall);
  document.addEventListener("keydown", (event) => { if (event.key === "Escape" && !large.hidden) backToWall(); });
  window.addEventListener("pagehide", stopAll);
  showWall();
})();
