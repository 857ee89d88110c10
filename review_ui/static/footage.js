// Footage player: under the video, the local wall-clock time of the picture being shown. The MP4 joins the recorded
// pieces of the window end to end (gaps skipped), so the server lists each piece as [offset in the video (s),
// local seconds since midnight at its start, its length (s)] in data-clock; the words come from data-clock-words.
(function () {
  "use strict";
  var player = document.getElementById("player");
  var video = document.getElementById("footage-video");
  var line = document.getElementById("player-clock");
  if (!player || !video || !line || !player.dataset.clock) { return; }
  var pieces;
  try { pieces = JSON.parse(player.dataset.clock); } catch (e) { return; }
  if (!pieces.length) { return; }
  var words = player.dataset.clockWords || "{time}";

  function two(n) { return (n < 10 ? "0" : "") + n; }

  function wallClock(t) {
    var piece = pieces[0];
    for (var i = 1; i < pieces.length && pieces[i][0] <= t; i++) { piece = pieces[i]; }
    var seconds = Math.floor(piece[1] + Math.min(Math.max(t - piece[0], 0), piece[2]));
    seconds = ((seconds % 86400) + 86400) % 86400;  // a window may run past midnight
    return two(Math.floor(seconds / 3600)) + ":" + two(Math.floor(seconds / 60) % 60) + ":" + two(seconds % 60);
  }

  function show() {
    var time = wallClock(video.currentTime || 0);
    line.textContent = words.replace("{time}", time);
    line.dataset.time = time;
    line.hidden = false;
  }

  video.addEventListener("loadedmetadata", show);
  video.addEventListener("timeupdate", show);
  video.addEventListener("seeked", show);
})();
