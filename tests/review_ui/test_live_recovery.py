"""The live wall through camera outages, against the real RTSP simulator, web process and Chromium: a tile whose
camera hangs (connection open, nothing sent: a power cut) or stops (connection closed) says why, leaves the snapshot
address alone while the camera is down, and plays live again by itself once the camera is back; a tile that was
offline when the page loaded follows the camera states the recorder writes."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psutil
import pytest

from live_web import PASSWORD, WebProcess, live_web, make_offer
from storage.repo.cameras import get_camera, set_camera_status
from tests.conftest import CACHE
from tests.review_ui.ui_server import free_port

DOWN_DETAIL = "camera 127.0.0.1 refused the connection (Connection refused)"
SAID_WITHIN_S = 25.0  # the page sees frames stop within 4-6 s and asks the server, which knows (3 s of silence)
BACK_WITHIN_S = 45.0  # retries every 15 s at most (5 s for the state poll): 45 s leaves room for a loaded machine


def _simulator() -> Any:
    from matthan.simulator.runner import SimulatedCameras

    # a fixed port: the camera's address stays the same when it is started again
    return SimulatedCameras(cache_dir=CACHE / "footage", count=1, main_size=(640, 360), sub_size=(320, 180),
                            port=free_port())  # fmt: skip


@pytest.fixture(scope="module")
def sim() -> Iterator[Any]:
    """A camera that the browser test switches off (its connections close) and on again."""
    with _simulator() as cameras:
        yield cameras


@pytest.fixture(scope="module")
def sim_b() -> Iterator[Any]:
    """A camera that the browser test freezes (its RTSP server stopped with SIGSTOP: connections stay open)."""
    with _simulator() as cameras:
        yield cameras


def _server_of(sim: Any) -> psutil.Process:
    """The simulator's RTSP server process."""
    for proc in psutil.Process().children(recursive=True):
        cmdline = proc.cmdline()
        if any(arg.endswith("rtsp_server.py") for arg in cmdline) and str(sim.port) in cmdline:
            return proc
    raise AssertionError(f"no RTSP server on port {sim.port}")


@pytest.fixture(scope="module")
def web(sim: Any, sim_b: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebProcess]:
    cameras = [
        {"code": "cong-uy-ban", "name": "Cổng UBND", "main_url": sim.main_url(1), "sub_url": sim.sub_url(1)},
        # the same camera again, as the recorder saw it when the page loaded: offline (the stream works meanwhile)
        {"code": "nha-van-hoa", "name": "Nhà văn hoá", "main_url": sim.main_url(1)},
        # the recorder will see this one go and come back
        {"code": "cho-moi", "name": "Chợ mới", "main_url": sim_b.main_url(1), "sub_url": sim_b.sub_url(1)},
        {"code": "mat-ket-noi", "name": "Trạm y tế", "main_url": "rtsp://127.0.0.1:9/stream1"},
    ]
    statuses = {"cong-uy-ban": ("online", ""), "cho-moi": ("online", ""), "nha-van-hoa": ("offline", DOWN_DETAIL),
                "mat-ket-noi": ("offline", DOWN_DETAIL)}
    with live_web(tmp_path_factory.mktemp("live-recovery"), cameras, statuses=statuses) as process:
        yield process


@pytest.fixture
def client(web: WebProcess) -> Iterator[httpx.Client]:
    c = web.client()
    yield c
    c.close()


def _set_status(web: WebProcess, code: str, status: str, detail: str = "") -> None:
    """What the recorder's health report writes (the worker is not running in these tests)."""
    with web.db.session() as session:
        set_camera_status(session=session, camera_id=get_camera(session=session, code=code).id, status=status,
                          detail=detail)  # fmt: skip


def test_the_wall_reads_the_camera_states(client: httpx.Client, web: WebProcess) -> None:
    states = {c["camera"]: c for c in client.get("/api/live/cameras").json()["cameras"]}
    assert set(states) == {"cong-uy-ban", "cho-moi", "nha-van-hoa", "mat-ket-noi"}
    assert states["cong-uy-ban"]["status"] == "online"
    assert states["mat-ket-noi"] == {"camera": "mat-ket-noi", "status": "offline", "detail": DOWN_DETAIL}
    _set_status(web, "mat-ket-noi", "auth_failed", "401 Unauthorized")
    try:
        changed = {c["camera"]: c for c in client.get("/api/live/cameras").json()["cameras"]}["mat-ket-noi"]
        assert changed["status"] == "auth_failed" and changed["detail"] == "401 Unauthorized"
    finally:
        _set_status(web, "mat-ket-noi", "offline", DOWN_DETAIL)
    with httpx.Client(base_url=web.url, timeout=10) as anonymous:
        assert anonymous.get("/api/live/cameras").status_code == 401


def test_a_camera_that_is_down_is_asked_once_however_many_offers(client: httpx.Client) -> None:
    def failed() -> int:
        return client.get("/api/live/status").json()["pulls_failed"].get("mat-ket-noi/main", 0)

    offer = make_offer()
    before = failed()
    for _ in range(3):
        answer = client.post("/api/live/mat-ket-noi/offer", json={"sdp": offer})
        assert answer.status_code == 503 and answer.json()["reason"] == "offline", answer.text
        assert "Connection refused" in answer.json()["detail"]  # the words of the attempt, answered again
    assert failed() == before + 1
    time.sleep(5.3)  # the hub's failure_age_s: then the camera is asked again
    assert client.post("/api/live/mat-ket-noi/offer", json={"sdp": offer}).status_code == 503
    assert failed() == before + 2


# --- Chromium --------------------------------------------------------------------------------------------------

PLAYING_JS = """(code) => new Promise((resolve) => {
  const tile = document.querySelector('#tile-' + code);
  const v = tile.querySelector('video');
  if (tile.dataset.mode !== 'webrtc' || !v.videoWidth) { resolve(false); return; }
  let frames = 0;
  const count = () => { frames += 1; v.requestVideoFrameCallback(count); };
  v.requestVideoFrameCallback(count);
  setTimeout(() => resolve(frames >= 5), 1000);
})"""


def _wait_playing(page: Any, codes: list[str], timeout_s: float) -> dict[str, float]:
    """Seconds until each tile plays live video (frames rendered, ~15 fps), failing after `timeout_s`."""
    started, playing = time.monotonic(), {}
    while True:
        for code in codes:
            if code not in playing and page.evaluate(PLAYING_JS, code):
                playing[code] = time.monotonic() - started
        if len(playing) == len(codes):
            return playing
        waiting = {c: (page.locator(f"#tile-{c}").get_attribute("data-mode"), page.locator(f"#tile-{c}").inner_text())
                   for c in codes if c not in playing}  # fmt: skip
        assert time.monotonic() - started < timeout_s, waiting
        page.wait_for_timeout(250)


SAYS_WHY_JS = """(code) => { const t = document.querySelector('#tile-' + code);
  return t.dataset.mode === 'unavailable' && t.innerText.includes('không kết nối được'); }"""
PICTURE_JS = """(code) => { const t = document.querySelector('#tile-' + code);
  const img = t.querySelector('img.snapshot');
  return t.dataset.mode === 'snapshot' && !img.hidden && img.complete && img.naturalWidth === 320; }"""
NO_WEBRTC_JS = "Object.defineProperty(window, 'RTCPeerConnection', {value: undefined});"


def _asked(asked: list[tuple[float, str]], path: str, since: float = 0.0) -> list[str]:
    return [url for at, url in asked if at >= since and path in url]


def _open_wall(browser: Any, web: WebProcess, *, webrtc: bool = True) -> tuple[Any, Any, list[tuple[float, str]]]:
    """A logged-in duty officer's wall and the requests it makes; without WebRTC, it shows still pictures."""
    context = browser.new_context(base_url=web.url, viewport={"width": 1366, "height": 900}, locale="vi-VN")
    context.set_default_timeout(20_000)
    if not webrtc:
        context.add_init_script(NO_WEBRTC_JS)
    page = context.new_page()
    asked: list[tuple[float, str]] = []
    page.on("request", lambda request: asked.append((time.monotonic(), request.url)))
    page.goto("/live")
    page.fill("#username", "truc-ban")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(re.compile(r"/live$"))
    return context, page, asked


@pytest.mark.browser
def test_a_tile_says_why_its_camera_went_and_plays_again_when_it_is_back(browser: Any, web: WebProcess, sim: Any,
                                                                          sim_b: Any) -> None:  # fmt: skip
    """cong-uy-ban is switched off, and the recorder says nothing (no worker runs): the tile finds out and retries by
    itself; cho-moi hangs, and the recorder reports it offline, then online; nha-van-hoa was offline when the page
    loaded. A second wall, in a browser without WebRTC, shows cong-uy-ban in still pictures through the outage."""
    server = _server_of(sim_b)
    context, page, asked = _open_wall(browser, web)
    still_context, still, still_asked = _open_wall(browser, web, webrtc=False)
    try:
        _wait_playing(page, ["cong-uy-ban", "cho-moi"], 30)
        waiting = page.locator("#tile-nha-van-hoa")
        assert waiting.get_attribute("data-mode") == "offline"
        words = waiting.inner_text()
        assert "Camera đang mất tín hiệu" in words and "không kết nối được" in words and "Sẽ tự xem lại" in words
        still.wait_for_function(PICTURE_JS, arg="cong-uy-ban")
        assert still.locator("#tile-cong-uy-ban .mode").inner_text().startswith("Ảnh tĩnh")

        # The cameras go while they are watched; the recorder notices cho-moi's loss (its health report).
        went = time.monotonic()
        sim.stop()
        server.suspend()
        _set_status(web, "cho-moi", "offline", DOWN_DETAIL)
        said = {}
        for code in ("cong-uy-ban", "cho-moi"):
            page.wait_for_function(SAYS_WHY_JS, arg=code, timeout=SAID_WITHIN_S * 1000)
            said[code] = time.monotonic() - went
            text = page.locator(f"#tile-{code}").inner_text()
            assert "Camera đang mất tín hiệu" in text and "Sẽ tự xem lại" in text, text
            assert "Trực tiếp" not in text and "Ảnh tĩnh" not in text, text
            assert not page.evaluate(f"() => document.querySelector('#tile-{code} video').srcObject")  # not frozen
        still.wait_for_function(SAYS_WHY_JS, arg="cong-uy-ban", timeout=SAID_WITHIN_S * 1000)
        said["pictures"] = time.monotonic() - went
        page.screenshot(path="/tmp/live_camera_down.png", full_page=True)
        page.wait_for_timeout(20_000)  # the camera stays down a while: the tiles ask again now and then, not every 3 s
        offers = {code: _asked(asked, f"/api/live/{code}/offer", went) for code in ("cong-uy-ban", "cho-moi")}
        snapshots = _asked(asked, "/snapshot.jpg", went)
        still_snapshots = _asked(still_asked, "/media/live/cong-uy-ban/snapshot.jpg", went)
        assert not snapshots, snapshots  # a camera that cannot be opened has no picture either
        # on its own: 3, 5, 10, 15 s apart; the one the recorder sees down waits for it to come back (or a minute)
        assert 2 <= len(offers["cong-uy-ban"]) <= 8 and 1 <= len(offers["cho-moi"]) <= 4, offers
        assert not _asked(asked, "/api/live/nha-van-hoa/offer")
        assert len(still_snapshots) <= 6, still_snapshots  # every 3 s before: ~10 in this time

        # The cameras come back; the recorder reconnects and reports them online (as its health does in seconds).
        sim.start()
        server.resume()
        back = time.monotonic()
        outage = back - went
        _set_status(web, "cho-moi", "online")
        _set_status(web, "nha-van-hoa", "online")
        again = _wait_playing(page, ["cong-uy-ban", "cho-moi", "nha-van-hoa"], BACK_WITHIN_S)
        left_s = BACK_WITHIN_S - (time.monotonic() - back)
        still.wait_for_function(PICTURE_JS, arg="cong-uy-ban", timeout=left_s * 1000)
        again["pictures"] = time.monotonic() - back
        print(f"\ncamera down {outage:.0f} s: the tiles said why after " + ", ".join(
              f"{code} {seconds:.1f} s" for code, seconds in said.items()) + f"; {len(offers['cong-uy-ban'])} and "
              f"{len(offers['cho-moi'])} offers, {len(snapshots)} snapshots, on the wall without WebRTC "
              f"{len(still_snapshots)} snapshots meanwhile; back after " + ", ".join(
              f"{code} {seconds:.1f} s" for code, seconds in again.items()))  # fmt: skip
        playing = time.monotonic()
        for code in ("cong-uy-ban", "cho-moi", "nha-van-hoa"):
            assert page.locator(f"#tile-{code} .mode").inner_text() == "Trực tiếp"
            assert page.locator(f"#tile-{code}").get_attribute("tabindex") == "0"  # opens large on a click
        page.wait_for_timeout(5_000)
        for code in ("cong-uy-ban", "cho-moi", "nha-van-hoa"):  # no reconnecting once it plays
            assert _asked(asked, f"/api/live/{code}/offer", playing) == [], code
            assert page.evaluate(PLAYING_JS, code), code
        assert still.evaluate(PICTURE_JS, "cong-uy-ban")
        page.screenshot(path="/tmp/live_recovered.png", full_page=True)
    finally:
        context.close()
        still_context.close()
        server.resume()
        if not sim.running:
            sim.start()
