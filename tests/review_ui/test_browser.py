"""Chromium (Debian build, driven by Playwright) through the real pages: log in, play a clip, tag it, switch language."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("sqlite_only")]  # the pages run on both databases


@pytest.fixture
def page(browser, live_server: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=live_server, viewport={"width": 1366, "height": 900}, locale="vi-VN")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def _log_in(page, seed, username: str = "investigator") -> None:  # type: ignore[no-untyped-def]
    page.goto("/events")
    assert "/login" in page.url
    page.fill("#username", username)
    page.fill("#password", seed.passwords[username])
    page.click("#login-submit")
    page.wait_for_url(re.compile(r"/events$"))


def test_investigator_plays_a_clip_and_tags_it(page, seed) -> None:  # type: ignore[no-untyped-def]
    _log_in(page, seed)
    ev = seed.events["school_morning"]
    rows = page.locator("#event-list tbody tr")
    assert rows.count() == len(seed.events)
    row = page.locator(f'#event-list tr[data-event-id="{ev.id}"]')
    assert row.locator("img").evaluate("img => img.complete && img.naturalWidth > 0")  # the thumbnail loaded
    row.locator("a.event-link").click()
    page.wait_for_url(f"**/events/{ev.id}")

    video = page.locator("#clip")
    video.wait_for()
    # The clip must really play: currentTime advances on its own (autoplay, muted).
    page.wait_for_function("() => { const v = document.getElementById('clip'); return v.readyState >= 2 || v.error; }")
    error = page.evaluate("() => { const e = document.getElementById('clip').error; return e && [e.code, e.message]; }")
    assert error is None, f"Chromium could not decode the H.264 clip: {error}"
    # Autoplay (muted) started on its own…
    page.wait_for_function("() => document.getElementById('clip').currentTime > 0")
    # …then seek back to the start (a Range request) so a slow machine cannot reach the 6 s end mid-measurement.
    page.evaluate("async () => { const v = document.getElementById('clip'); v.currentTime = 0; await v.play(); }")
    first = page.evaluate("document.getElementById('clip').currentTime")
    page.wait_for_timeout(1500)
    second = page.evaluate("document.getElementById('clip').currentTime")
    assert second > first + 0.5, f"the clip does not play: currentTime {first} → {second} over 1.5 s"
    assert page.evaluate("document.getElementById('clip').paused") is False
    assert page.evaluate("document.getElementById('clip').videoWidth") == 640
    page.screenshot(path="/tmp/review_ui_event.png", full_page=True)

    page.fill("#new-case-title", "Trộm xe đạp trước cổng trường")
    page.fill("#note", "Đối tượng đội mũ bảo hiểm xanh, lúc 10:00")
    page.click("#tag-submit")
    page.wait_for_url(re.compile(r"/cases/\d+"))
    item = page.locator(f'#evidence-list li[data-event-id="{ev.id}"]')
    assert item.get_attribute("data-sha256") == seed.clip_sha256
    assert item.locator("code.sha256").inner_text() == seed.clip_sha256
    assert "Đối tượng đội mũ bảo hiểm xanh" in item.inner_text()
    assert "Trần Thị Điều" in item.inner_text()
    assert "01/05/2024 10:00:00" in item.inner_text()
    assert page.locator("#flash").is_visible()
    page.screenshot(path="/tmp/review_ui_case.png", full_page=True)

    number = page.locator("#case-number").inner_text()
    item.locator("a.button").click()  # back to the event, which now names its case
    page.wait_for_url(f"**/events/{ev.id}")
    assert number in page.locator("#holding").inner_text()


def test_language_switch_changes_the_header(page, seed) -> None:  # type: ignore[no-untyped-def]
    _log_in(page, seed, "duty")
    assert page.locator("#nav-events").inner_text() == "Sự kiện"
    assert page.locator("#nav-cases").inner_text() == "Vụ việc"
    page.click("#lang-toggle")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert page.locator("#nav-events").inner_text() == "Events"
    assert page.locator("#nav-cases").inner_text() == "Cases"
    assert page.url.endswith("/events")
    page.screenshot(path="/tmp/review_ui_events_en.png", full_page=True)
    page.click("#lang-toggle")
    page.wait_for_function("() => document.documentElement.lang === 'vi'")
    assert page.locator("#nav-events").inner_text() == "Sự kiện"


def test_duty_officer_sees_the_banner_and_filters_by_kind_and_zone(page, seed) -> None:  # type: ignore[no-untyped-def]
    _log_in(page, seed, "duty")
    banner = page.locator("#health-banner")
    assert banner.is_visible()
    critical = banner.locator('li[data-code="spool_quota"]')
    assert "Bộ đệm ghi hình sắp đầy" in critical.inner_text()
    # Red for critical, amber for warnings: the computed border colours differ and the critical one is reddish.
    colours = [banner.locator(f'li[data-code="{code}"]').evaluate("li => getComputedStyle(li).borderLeftColor")
               for code in ("spool_quota", "detector_unavailable")]
    assert colours[0] != colours[1]
    red, green, blue = (int(x) for x in re.findall(r"\d+", colours[0])[:3])
    assert red > 150 and green < 80 and blue < 80, colours[0]
    # what to do shows in Vietnamese; the system's own English detail is folded until asked for
    detector = banner.locator('li[data-code="detector_unavailable"]')
    assert "Vẫn phát hiện chuyển động" in detector.inner_text()
    assert seed.alerts["detector"].message not in detector.inner_text()
    detector.locator("summary").click()
    assert seed.alerts["detector"].message in detector.inner_text()
    page.screenshot(path="/tmp/review_ui_events_banner.png", full_page=True)

    page.select_option("#filter-kind", "vehicle")
    page.fill("#filter-zone", "cổng trường")
    page.click("#filter-submit")
    page.wait_for_url(re.compile(r"kind=vehicle"))
    rows = page.locator("#event-list tbody tr")
    assert rows.count() == 1
    assert rows.first.get_attribute("data-event-id") == str(seed.events["gate_motorbike"].id)
    assert "xe máy 91%" in rows.first.inner_text()
    assert page.locator("#health-banner").is_visible()  # still there on the filtered list
    page.screenshot(path="/tmp/review_ui_events_filtered.png", full_page=True)

    page.goto(f"/events/{seed.events['gate_offline'].id}")
    assert page.locator("video").count() == 0
    assert "45:00" in page.locator("#offline-duration").inner_text()
    page.screenshot(path="/tmp/review_ui_offline.png", full_page=True)
    page.goto(f"/events/{seed.events['gate_tamper'].id}")
    assert page.locator("#snapshot").evaluate("img => img.complete && img.naturalWidth > 0")
    page.screenshot(path="/tmp/review_ui_tamper.png", full_page=True)


def test_duty_officer_reviews_events_with_the_keyboard(page, seed) -> None:  # type: ignore[no-untyped-def]
    _log_in(page, seed, "duty")
    rows = page.locator("#event-list tbody tr")
    second = rows.nth(1).get_attribute("data-event-id")
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert rows.nth(1).get_attribute("aria-selected") == "true"
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/events/{second}")
    assert page.locator("#event-reviewed").inner_text() == "Chưa xem"
    page.keyboard.press("r")  # mark reviewed: the form posts and the page comes back
    page.wait_for_function("() => document.querySelector('#event-reviewed').innerText.includes('đã xem lúc')")
    assert page.locator("#event-reviewed").inner_text().startswith("duty ")
    page.keyboard.press("u")
    page.wait_for_url(re.compile(r"/events$"))
    assert "reviewed" in (page.locator(f'#event-list tr[data-event-id="{second}"]').get_attribute("class") or "")
    page.select_option("#filter-reviewed", "no")
    page.click("#filter-submit")
    page.wait_for_url(re.compile(r"reviewed=no"))
    shown = page.locator("#event-list tbody tr").evaluate_all("rows => rows.map(r => r.dataset.eventId)")
    assert second not in shown and shown
    # back to how the seed was: other tests count on it
    page.goto(f"/events/{second}")
    page.click("#review-button")
    page.wait_for_function("() => document.querySelector('#event-reviewed').innerText === 'Chưa xem'")


def test_investigator_searches_footage_plays_a_minute_tags_and_exports(page, seed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from storage.bundle import verify_bundle

    _log_in(page, seed)
    page.click("#nav-footage")
    page.wait_for_url("**/footage")
    page.check('input[name="camera"][value="cong-truong"]')
    page.fill("#footage-day", "2024-05-01")
    page.fill("#footage-at", "10:00")
    page.click("#footage-submit")
    page.wait_for_url(re.compile(r"/footage\?.*at=10%3A00"))
    assert page.locator('#timeline-cong-truong li.slot').count() == 144
    # play from the chosen minute: the footage really plays
    page.wait_for_function("() => { const v = document.getElementById('footage-video'); return v.readyState >= 2 || v.error; }")
    assert page.evaluate("document.getElementById('footage-video').error") is None
    page.evaluate("async () => { const v = document.getElementById('footage-video'); v.currentTime = 0; await v.play(); }")
    first = page.evaluate("document.getElementById('footage-video').currentTime")
    page.wait_for_timeout(1500)
    assert page.evaluate("document.getElementById('footage-video').currentTime") > first + 0.5
    page.screenshot(path="/tmp/review_ui_footage.png", full_page=True)

    ev = seed.events["school_morning"]
    page.click(f'#timeline-cong-truong a.event-ref[data-event-id="{ev.id}"]')  # the event in that footage
    page.wait_for_url(f"**/events/{ev.id}")
    page.fill("#new-case-title", "Vụ việc từ tìm hình")
    page.fill("#note", "Thấy trong đoạn 10:00")
    page.click("#tag-submit")
    page.wait_for_url(re.compile(r"/cases/\d+"))
    with page.expect_download() as download:
        page.click("#export-button")
    bundle = tmp_path / "case.zip"
    download.value.save_as(bundle)
    result = verify_bundle(str(bundle))
    assert result.ok, result.problems
    assert result.case_number == page.locator("#case-number").inner_text()


def test_duty_officer_cannot_export_or_delete(page, seed, login) -> None:  # type: ignore[no-untyped-def]
    investigator = login("investigator")
    tagged = investigator.post(f"/api/events/{seed.events['school_morning'].id}/evidence",
                               json={"new_case_title": "Vụ việc trực ban chỉ xem", "note": "Xe máy qua cổng"})
    assert tagged.status_code == 201, tagged.text
    case_id, evidence_id = tagged.json()["case_id"], tagged.json()["id"]
    _log_in(page, seed, "duty")
    page.goto("/cases")
    page.click(f'tr[data-case-id="{case_id}"] a.mono')
    page.wait_for_url(f"**/cases/{case_id}")
    assert page.locator(f"#evidence-{evidence_id}").is_visible()
    assert page.locator("#export-button").count() == 0
    assert page.locator(".remove-evidence-form, #case-edit-form").count() == 0
    # forging the forms from the page itself (same origin, the session's CSRF token) is refused by the server
    statuses = page.evaluate("""async ([caseId, evidenceId]) => {
        const token = document.querySelector('input[name="csrf_token"]').value;
        const post = (url, fields) => fetch(url, {method: 'POST', redirect: 'manual',
            body: new URLSearchParams({csrf_token: token, ...fields})}).then(r => r.status);
        return [await post(`/cases/${caseId}/export`, {}),
                await post(`/cases/${caseId}/evidence/${evidenceId}/remove`, {reason: 'xoá thử'}),
                await fetch(`/api/cases/${caseId}/evidence/${evidenceId}`, {method: 'DELETE',
                    headers: {'Content-Type': 'application/json'}, body: JSON.stringify({reason: 'xoá thử'})})
                    .then(r => r.status)];
    }""", [case_id, evidence_id])
    assert statuses == [403, 403, 403]
    page.reload()
    assert page.locator(f"#evidence-{evidence_id}").is_visible()  # nothing was removed
