"""Footage search: a day's coverage per camera in 10-minute slots, playing from a chosen minute (with Range), and a
range downloaded as one MP4 — on the seed's recorded segment (10:00–10:01 local on 1 May 2024, camera cong-truong)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from sqlalchemy import select

from storage.models import AuditEntry


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
