"""Footage search: a day's coverage per camera in 10-minute slots, playing from a chosen minute (with Range), and a
range downloaded as one MP4 — on the seed's recorded segment (10:00–10:01 local on 1 May 2024, camera cong-truong)."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.db import Database
from storage.models import AuditEntry
from storage.objectstore import LocalObjectStore
from storage.repo.cameras import get_camera
from storage.repo.segments import add_segment


def slots(html: str, camera: str) -> list[tuple[str, str, int]]:
    section = html.split(f'id="timeline-{camera}"', 1)[1].split("</section>", 1)[0]
    return [(m.group(1), m.group(2), int(m.group(3))) for m in
            re.finditer(r'data-start="([^"]+)" data-coverage="(\w+)" data-events="(\d+)"', section)]


def test_a_day_of_coverage_in_slots(login, seed) -> None:
    client = login("duty")
    page = client.get("/footage", params={"camera": ["cong-truong", "cho-xa"], "day": "2024-05-01"})
    assert page.status_code == 200
    school = slots(page.text, "cong-truong")
    assert len(school) == 144 and school[0][0].startswith("2024-04-30T17:00:00")  # 00:00 in Hà Nội
    at_ten = {start: (cov, n) for start, cov, n in school}["2024-05-01T03:00:00+00:00"]
    assert at_ten == ("part", 1)  # one recorded minute of ten, and the 10:00 event
    assert all(cov == "none" for start, cov, _ in school if start != "2024-05-01T03:00:00+00:00")
    assert all(cov == "none" for _, cov, _ in slots(page.text, "cho-xa"))
    assert f'href="/events/{seed.events["school_morning"].id}"' in page.text
    nothing = client.get("/footage")
    assert nothing.status_code == 200 and 'id="no-cameras-chosen"' in nothing.text


def test_play_from_a_minute_with_range_requests(login, seed, ui_db, tmp_path: Path) -> None:
    client = login("investigator")
    page = client.get("/footage", params={"camera": "cong-truong", "day": "2024-05-01", "at": "10:00",
                                          "play": "cong-truong"})  # fmt: skip
    src = re.search(r'<video id="footage-video"[^>]* src="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    assert "start=2024-05-01T03%3A00%3A00Z" in src and "end=2024-05-01T03%3A10%3A00Z" in src
    whole = client.get(src)
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes"
    head = client.head(src)
    assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) == len(whole.content)
    part = client.get(src, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    clip = tmp_path / "played.mp4"
    clip.write_bytes(whole.content)
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(clip)],
                           capture_output=True, text=True, timeout=30)  # fmt: skip
    assert 5.0 <= float(probe.stdout) <= 6.5, probe  # the recorded part of the ten minutes
    with ui_db.session() as session:
        views = session.scalars(select(AuditEntry).where(AuditEntry.action == "footage.view",
                                                         AuditEntry.subject == "camera:cong-truong")
                               .order_by(AuditEntry.id)).all()
    assert views and views[-1].actor == "investigator"  # the player's first request; its Range requests are not


def test_download_a_range_as_one_mp4(login, seed, ui_db) -> None:
    client = login("investigator")
    answer = client.get("/footage/download", params={"camera": "cong-truong", "day": "2024-05-01", "from": "09:59",
                                                     "to": "10:02"})  # fmt: skip
    assert answer.status_code == 303
    target = answer.headers["location"]
    assert "start=2024-05-01T02%3A59%3A00Z" in target and "download=1" in target
    mp4 = client.get(target)
    assert mp4.status_code == 200 and mp4.content[4:8] == b"ftyp"
    assert 'attachment; filename="cong-truong-20240501-095900.mp4"' == mp4.headers["content-disposition"]
    with ui_db.session() as session:
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "footage.download")).all()


def test_a_download_that_cannot_be_made_is_refused_on_the_page_in_the_readers_words(login, seed) -> None:
    client = login("investigator")
    nothing = client.get("/footage/download", params={"camera": "cho-xa", "day": "2024-05-01", "from": "10:00",
                                                      "to": "10:10"})  # fmt: skip
    assert nothing.status_code == 404 and "Tìm hình đã ghi" in nothing.text  # the footage page, saying why
    assert "Camera Chợ xã không ghi được hình nào từ 10:00 đến 10:10 01/05/2024" in nothing.text
    assert "nothing was recorded" not in nothing.text
    too_long = client.get("/footage/download", params={"camera": "cong-truong", "day": "2024-05-01", "from": "08:00",
                                                       "to": "10:30"})  # fmt: skip
    assert too_long.status_code == 422 and "Mỗi lần chỉ tải được tối đa 2 giờ" in too_long.text
    overnight = client.get("/footage/download", params={"camera": "cong-truong", "day": "2024-05-01", "from": "23:30",
                                                        "to": "00:30"})  # fmt: skip
    assert overnight.status_code == 404 and "từ 23:30 đến 00:30 02/05/2024" in overnight.text  # the next day
    client.get("/lang/en")
    nothing = client.get("/footage/download", params={"camera": "cho-xa", "day": "2024-05-01", "from": "10:00",
                                                      "to": "10:10"})  # fmt: skip
    assert "Camera Chợ xã recorded nothing from 10:00 to 10:10 01/05/2024" in nothing.text


def test_footage_errors_say_what_to_do(login, seed) -> None:
    client = login("duty")
    none = client.get("/media/footage/cho-xa.mp4", params={"start": "2024-05-01T03:00:00Z", "end": "2024-05-01T03:10:00Z"})
    assert none.status_code == 404 and "nothing was recorded" in none.text
    long = client.get("/media/footage/cong-truong.mp4",
                      params={"start": "2024-05-01T00:00:00Z", "end": "2024-05-01T03:00:01Z"})  # fmt: skip
    assert long.status_code == 422 and "several parts" in long.text
    naive = client.get("/media/footage/cong-truong.mp4", params={"start": "2024-05-01T03:00:00", "end": "2024-05-01T03:10:00"})
    assert naive.status_code == 422 and "UTC offset" in naive.text
    assert client.get("/media/footage/khong-co.mp4", params={"start": "2024-05-01T03:00:00Z",
                                                             "end": "2024-05-01T03:10:00Z"}).status_code == 404
    bad_day = client.get("/footage", params={"camera": "cong-truong", "day": "hôm qua"})
    assert bad_day.status_code == 200 and "Ngày không hợp lệ" in bad_day.text


# --- What a played window really holds. Camera cong-truong on 20 Apr 2024 (local) recorded 06:28:23–06:28:43 and
# 06:29:10–06:31:10 (real H.264 segments of those lengths); nothing else that day.
DAWN_DAY = "2024-04-20"
DAWN = (("a", dt.datetime(2024, 4, 19, 23, 28, 23, tzinfo=dt.UTC), 20),  # 06:28:23 local, 20 s
        ("b", dt.datetime(2024, 4, 19, 23, 29, 10, tzinfo=dt.UTC), 120))  # 06:29:10 local, 2 min


def record_dawn(db: Database, store: LocalObjectStore, workdir: Path) -> None:
    """Index the dawn segments (idempotent: add_segment returns a key it already has), made once with ffmpeg."""
    with db.session() as session:
        camera_id = get_camera(session=session, code="cong-truong").id
        for name, start, seconds in DAWN:
            media = workdir / f"dawn-{name}.ts"
            if not media.exists():
                subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=15",
                                "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-g", "15",
                                "-pix_fmt", "yuv420p", "-f", "mpegts", str(media)],
                               check=True, timeout=120)  # fmt: skip
            key = f"segments/cong-truong/{start:%Y/%m/%d/%H}/{start:%Y%m%dT%H%M%SZ}.ts"
            stored = store.put_file(key, media)
            add_segment(session=session, camera_id=camera_id, start_at=start,
                        end_at=start + dt.timedelta(seconds=seconds), object_key=key, size=stored.size,
                        sha256=stored.sha256)  # fmt: skip


@pytest.fixture
def dawn(seed, ui_db: Database, ui_store: LocalObjectStore, workdir: Path) -> None:
    record_dawn(ui_db, ui_store, workdir)


def _player_text(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:p|ul)>', html, re.S)
    assert found, f"no #{element_id} on the page"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def test_a_window_with_nothing_recorded_says_so_and_offers_the_nearest_footage(login, dawn) -> None:
    client = login("duty")
    empty = client.get("/footage", params={"camera": "cong-truong", "day": DAWN_DAY, "at": "03:00"})
    assert empty.status_code == 200
    assert "<video" not in empty.text and 'id="download-window"' not in empty.text  # no dead player, no dead link
    assert 'data-recorded="none"' in empty.text
    assert _player_text(empty.text, "nothing-recorded") == (
        "Camera Cổng trường tiểu học không ghi được hình nào từ 03:00 đến 03:10 20/04/2024 (camera mất kết nối, "
        "hoặc hình đã quá thời hạn lưu).")
    after = re.search(r'<a href="([^"]+)" id="play-after"[^>]*>([^<]+)</a>', empty.text)
    assert after and after.group(2) == "xem lần ghi tiếp theo (bắt đầu lúc 20/04/2024 06:28:23)"
    href = after.group(1).replace("&amp;", "&")
    assert "day=2024-04-20" in href and "at=06%3A28" in href and "play=cong-truong" in href
    assert 'id="play-before"' not in empty.text.split('id="nothing-recorded"')[1]  # the seed's footage is later

    playing = client.get(href)  # the offered link plays: the recording starts inside its window
    assert '<video id="footage-video"' in playing.text and 'data-recorded="yes"' in playing.text

    late = client.get("/footage", params={"camera": "cong-truong", "day": DAWN_DAY, "at": "07:00"})
    before = re.search(r'<a href="([^"]+)" id="play-before"[^>]*>([^<]+)</a>', late.text)
    assert before and before.group(2) == "xem lần ghi trước đó (kết thúc lúc 20/04/2024 06:31:10)"
    assert "at=06%3A22" in before.group(1)  # 06:22–06:32 ends with the recording's last minute
    after = re.search(r'<a href="([^"]+)" id="play-after"[^>]*>([^<]+)</a>', late.text)
    assert after and "01/05/2024 10:00:00" in after.group(2) and "day=2024-05-01" in after.group(1)  # another day

    never = client.get("/footage", params={"camera": "cho-xa", "day": DAWN_DAY, "at": "03:00"})
    assert "<video" not in never.text and _player_text(never.text, "nearest-recordings") == \
        "Camera này chưa có hình nào được lưu."

    client.get("/lang/en")
    empty = client.get("/footage", params={"camera": "cong-truong", "day": DAWN_DAY, "at": "03:00"})
    assert "Camera Cổng trường tiểu học recorded nothing from 03:00 to 03:10 20/04/2024" in empty.text
    assert "play the next recording (it starts at 20/04/2024 06:28:23)" in empty.text and "<video" not in empty.text


def _frame(media: Path, index: int) -> bytes:
    """The decoded picture number `index` (grey, raw), to compare pictures across files."""
    grey = subprocess.run(["ffmpeg", "-v", "error", "-i", str(media), "-vf", f"select=eq(n\\,{index})",
                           "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                          capture_output=True, check=True, timeout=60).stdout  # fmt: skip
    assert len(grey) == 320 * 180, (media, index)
    return grey


def test_the_player_says_what_the_video_really_holds_and_the_gaps_it_skips(login, dawn, workdir: Path,
                                                                            tmp_path: Path) -> None:
    client = login("investigator")
    page = client.get("/footage", params={"camera": "cong-truong", "day": DAWN_DAY, "at": "06:20",
                                          "play": "cong-truong"})  # fmt: skip
    assert "20/04/2024 06:20:00 – 20/04/2024 06:30:00" in page.text  # the window asked for, as before
    # what the video holds: 20 s, then (27 s later) 50 s up to the window's end
    assert _player_text(page.text, "player-covers") == (
        "Video này chứa hình ghi từ 06:28:23 đến 06:30:00, dài 1:10: giây 0:00 của video là khoảng 06:28:23.")
    assert _player_text(page.text, "player-gap-list") == "06:28:43 – 06:29:10 (mất 0:27)"
    clock = re.search(r"data-clock='([^']+)'", page.text)
    assert clock and json.loads(clock.group(1)) == [[0, 23303, 20], [20, 23350, 50]]  # 06:28:23 and 06:29:10

    src = re.search(r'<video id="footage-video"[^>]* src="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    video = tmp_path / "window.mp4"
    video.write_bytes(client.get(src).content)
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                            str(video)], capture_output=True, text=True, timeout=30)  # fmt: skip
    # the page's 1:10, not the 1:37 that cutting "first recorded moment to window end" ran to, 27 s past 06:30
    assert 69.0 <= float(probe.stdout) <= 71.5, probe
    # and it jumps where data-clock says: 20 s in (frame 300 at 15 fps), the picture is the 06:29:10 recording's own
    a, b = workdir / "dawn-a.ts", workdir / "dawn-b.ts"
    assert _frame(video, 299) == _frame(a, 299) and _frame(video, 375) == _frame(b, 75) != _frame(b, 74)

    client.get("/lang/en")
    page = client.get("/footage", params={"camera": "cong-truong", "day": DAWN_DAY, "at": "06:20",
                                          "play": "cong-truong"})  # fmt: skip
    assert "This video holds footage recorded from 06:28:23 to 06:30:00, 1:10 long: its 0:00 is about 06:28:23." \
        in page.text
    assert "06:28:43 – 06:29:10 (0:27 missing)" in page.text
    assert 'data-clock-words="The picture shown was recorded at about {time}"' in page.text
