// Camera form: "Test connection" sends the stream fields to /api/cameras/probe and shows resolution, codec, fps and
// a picture before anything is saved (the password stays in its field). Saving tests again on the server.
(function () {
  "use strict";
  var form = document.getElementById("camera-form");
  var button = document.getElementById("probe-button");
  if (!form || !button) { return; }
  var box = document.getElementById("probe-result");
  var status = document.getElementById("probe-status");
  var figures = document.getElementById("probe-figures");
  var snapshot = document.getElementById("probe-snapshot");

  function words(id) { var el = document.getElementById("probe-msg-" + id); return el ? el.textContent : id; }
  // the server's and the browser's own (English) text, labelled as the technical detail after the reader's words
  function technical(text) { return text ? " " + words("detail") + " " + text : ""; }
  function value(name) { var v = new FormData(form).get(name); return v === null ? "" : String(v).trim(); }
  function fields() {
    var body = { username: value("username") };
    var password = new FormData(form).get("password");
    if (password) { body.password = String(password); }
    if (value("source_kind") === "recorder") {
      body.recorder = value("recorder") || null;
      body.channel = value("channel") ? parseInt(value("channel"), 10) : null;
    } else {
      body.main_url = value("main_url") || null;
      body.sub_url = value("sub_url") || null;
    }
    if (form.dataset.camera) { body.camera = form.dataset.camera; }
    return body;
  }
  function show(state, text) {
    box.hidden = false;
    box.className = "probe-result " + state;
    box.dataset.state = state;
    status.textContent = text;
  }

  button.addEventListener("click", function () {
    figures.hidden = true;
    snapshot.hidden = true;
    button.disabled = true;
    show("testing", words("testing"));
    fetch("/api/cameras/probe", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(fields())
    }).then(function (r) {
      return r.json().then(function (answer) { return { ok: r.ok, answer: answer }; });
    }).then(function (reply) {
      var a = reply.answer;
      if (!reply.ok) { show("failed", words("invalid") + technical(a.detail)); box.dataset.problem = "invalid"; return; }
      box.dataset.problem = a.problem || "";
      if (a.codec) {
        document.getElementById("probe-resolution").textContent = a.width + "×" + a.height;
        document.getElementById("probe-codec").textContent = a.codec.toUpperCase();
        document.getElementById("probe-fps").textContent = a.fps === null ? "?" : String(a.fps);
        figures.hidden = false;
      }
      if (a.snapshot_jpeg_base64) {
        snapshot.src = "data:image/jpeg;base64," + a.snapshot_jpeg_base64;
        snapshot.hidden = false;
      }
      if (a.ok) {
        show("ok", words("ok"));
        var refused = document.getElementById("save-refused");  // the last save's refusal no longer holds
        if (refused) { refused.hidden = true; }
      }
      else if (a.codec) { show("failed", words("sub-failed") + " " + words(a.problem) + technical(a.message)); }
      else { show("failed", words(a.problem) + technical(a.message)); }
    }).catch(function (err) {
      show("failed", words("network") + technical(String(err)));
    }).then(function () { button.disabled = false; });
  });
})();
