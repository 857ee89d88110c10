"""Chromium through the footage page: under the playing video, the wall-clock time of the picture (footage.js), which
jumps the recording gap the video skips; a window with nothing recorded has no player to fail."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_footage import DAWN_DAY, record_dawn

from storage.db import Database
from storage.objectstore import LocalObjectStore

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("sqlite_only")]  # the pages run on both databases


@pytest.fixture
def page(browser, live_server: str, seed, ui_db: Database, ui_store: LocalObjectStore,  # type: ignore[no-untyped-def]
         workdir: Path):
    record_dawn(ui_db, ui_store, workdir)
    context = browser.new_context(base_url=live_server, viewport={"width": 1366, "height": 900}, locale="vi-VN")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/events")
    page.fill("#username", "duty")
    page.fill("#password", seed.passwords["duty"])
    page.click("#login-submit")
    page.wait_for_url(re.compile(r"/events$"))
    yield page
    context.close()


def _seconds(clock: str) -> int:
    hours, minutes, seconds = (int(p) for p in clock.split(":"))
    return hours * 3600 + minutes * 60 + seconds


def test_the_clock_under_the_video_follows_the_recording_across_its_gap(page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"/footage?camera=cong-truong&day={DAWN_DAY}&at=06:20&play=cong-truong")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.wait_for_function("() => { const v = document.getElementById('footage-video'); "
                           "return v.readyState >= 1 || v.error; }")
    assert page.evaluate("document.getElementById('footage-video').error") is None
    clock = page.locator("#player-clock")
    clock.wait_for(state="visible")
    # 0:00 of the video is the first recorded moment, 06:28:23, not the window's 06:20:00
    assert re.fullmatch(r"Hình đang xem được ghi lúc khoảng 06:28:2\d", clock.inner_text()), clock.inner_text()
    # 25 s into the video: 20 s of the first recording, then 5 s into the one that began at 06:29:10 (the 27 s gap
    # between them is skipped by the video, not by the clock)
    page.evaluate("() => { const v = document.getElementById('footage-video'); v.pause(); v.currentTime = 25; }")
    page.wait_for_function("() => document.getElementById('footage-video').currentTime >= 24.5 && "
                           "/^06:29:1/.test(document.getElementById('player-clock').dataset.time)")
    at = clock.get_attribute("data-time")
    assert at is not None and abs(_seconds(at) - _seconds("06:29:15")) <= 1, at
    assert not errors, errors
    page.screenshot(path="/tmp/review_ui_footage_clock.png", full_page=True)


def test_nothing_recorded_shows_no_player_and_links_to_the_next_recording(page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"/footage?camera=cong-truong&day={DAWN_DAY}&at=03:00")
    assert page.locator("video").count() == 0 and page.locator("#download-window").count() == 0
    assert "không ghi được hình nào từ 03:00 đến 03:10" in page.locator("#nothing-recorded").inner_text()
    page.click("#play-after")
    page.wait_for_url(re.compile(r"at=06%3A28"))
    page.wait_for_function("() => { const v = document.getElementById('footage-video'); "
                           "return v && v.readyState >= 1; }")
    assert page.locator("#player-clock").is_visible()
    page.go_back()
    page.screenshot(path="/tmp/review_ui_footage_nothing.png", full_page=True)
