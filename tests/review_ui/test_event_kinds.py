"""Event kinds, labels and zones: the kind/label/zone filters (API and page) and the words for them in both languages,
offline periods without a player, tamper events with their snapshot."""

from __future__ import annotations

import re

import httpx

ALL = "/events"


def _ids(answer: httpx.Response) -> list[int]:
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["items"]]


def _page_ids(answer: httpx.Response) -> list[int]:
    assert answer.status_code == 200, answer.text
    return [int(x) for x in re.findall(r'<tr data-event-id="(\d+)"', answer.text)]


def _row(html: str, event_id: int) -> str:
    match = re.search(rf'<tr data-event-id="{event_id}".*?</tr>', html, re.S)
    assert match, f"event {event_id} is not in the list"
    return match.group(0)


def _text(html: str) -> str:
    """The visible words of an HTML fragment, tags dropped and spaces squeezed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def test_api_filters_by_kind_label_and_zone(login, seed) -> None:
    client = login("duty")
    ev = {name: e.id for name, e in seed.events.items()}
    cases = [
        ({"kind": "offline"}, [ev["gate_offline"]]),
        ({"kind": "tamper"}, [ev["gate_tamper"]]),
        ({"kind": "person"}, [ev["yard_person"], ev["school_morning"]]),
        ({"label": "motorbike"}, [ev["gate_motorbike"]]),
        ({"label": "person"}, [ev["yard_person"], ev["school_morning"]]),
        ({"label": "covered"}, [ev["gate_tamper"]]),
        ({"label": "car"}, [ev["market"]]),
        ({"label": "truck"}, []),
        ({"zone": "cổng trường"}, [ev["gate_motorbike"]]),
        ({"zone": "  cổng trường "}, [ev["gate_motorbike"]]),
        ({"zone": "cổng"}, []),  # whole zone names only, not a part of one
        ({"zone": "sân trường", "label": "person"}, [ev["yard_person"]]),
        ({"kind": "vehicle", "zone": "cổng trường", "camera": "cong-truong"}, [ev["gate_motorbike"]]),
        ({"kind": "vehicle", "zone": "cổng trường", "camera": "cho-xa"}, []),
        ({"label": "person", "start": "2024-05-01T14:00:00+07:00"}, [ev["yard_person"]]),
    ]
    for params, expected in cases:
        answer = client.get("/api/events", params=params)
        assert _ids(answer) == expected, params
        assert answer.json()["total"] == len(expected), params
    paged = client.get("/api/events", params={"label": "person", "limit": 1, "offset": 1}).json()
    assert [i["id"] for i in paged["items"]] == [ev["school_morning"]] and paged["total"] == 2
    too_long = client.get("/api/events", params={"zone": "x" * 101})
    assert too_long.status_code == 422 and "zone" in too_long.json()["detail"]


def test_api_event_carries_scores_zones_and_detail(login, seed) -> None:
    client = login("duty")
    bike = client.get(f"/api/events/{seed.events['gate_motorbike'].id}").json()
    assert bike["kind"] == "vehicle" and bike["labels"] == ["motorbike"]
    assert bike["label_scores"] == {"motorbike": 0.91}
    assert bike["zones"] == ["cổng trường"] and bike["detail"] == ""

    offline = client.get(f"/api/events/{seed.events['gate_offline'].id}").json()
    assert offline["kind"] == "offline" and offline["clip_status"] == "none"
    assert offline["clip_url"] is None and offline["snapshot_url"] is None
    assert offline["detail"].startswith("camera 10.0.0.11 did not answer")
    assert offline["end_at"] == "2024-05-01T10:45:00Z"

    tamper = client.get(f"/api/events/{seed.events['gate_tamper'].id}").json()
    assert tamper["labels"] == ["covered"] and tamper["detail"] == "camera view covered"
    assert tamper["snapshot_url"] == f"/media/events/{seed.events['gate_tamper'].id}/snapshot.jpg"

    old = client.get(f"/api/events/{seed.events['market_pending'].id}").json()  # a plain motion event
    assert old["label_scores"] == {} and old["zones"] == [] and old["detail"] == ""


def test_page_filters_by_kind_label_and_zone(login, seed) -> None:
    client = login("duty")
    ev = {name: e.id for name, e in seed.events.items()}

    by_kind = client.get(ALL, params={"kind": "vehicle"})
    assert _page_ids(by_kind) == [ev["gate_motorbike"], ev["market"]]
    assert '<option value="vehicle" selected>' in by_kind.text
    assert 'id="filter-clear"' in by_kind.text

    by_label = client.get(ALL, params={"label": "covered"})
    assert _page_ids(by_label) == [ev["gate_tamper"]]
    assert '<option value="covered" selected>' in by_label.text

    by_zone = client.get(ALL, params={"zone": "cổng trường"})
    assert _page_ids(by_zone) == [ev["gate_motorbike"]]
    assert 'id="filter-zone" list="known-zones"' in by_zone.text and 'value="cổng trường"' in by_zone.text
    # The zones configured on the cameras are offered as suggestions.
    datalist = re.search(r'<datalist id="known-zones">(.*?)</datalist>', by_zone.text, re.S)
    assert datalist and re.findall(r'<option value="([^"]+)">', datalist.group(1)) == ["cổng trường", "sân trường"]

    together = client.get(ALL, params={"camera": "cong-truong", "label": "person", "zone": "sân trường"})
    assert _page_ids(together) == [ev["yard_person"]]
    window = client.get(ALL, params={"kind": "person", "start": "2024-05-01T09:00", "end": "2024-05-01T11:00"})
    assert _page_ids(window) == [ev["school_morning"]]

    # Values the selects do not offer are ignored, like an unknown camera.
    assert len(_page_ids(client.get(ALL, params={"kind": "bogus", "label": "bogus"}))) == len(seed.events)
    assert 'id="no-events"' in client.get(ALL, params={"zone": "ngã ba"}).text
    # an unknown camera code (an old link, a typo) shows every camera's events, and says so
    stale = client.get(ALL, params={"camera": "cam-99"})
    assert len(_page_ids(stale)) == len(seed.events)
    assert "Không có camera mã cam-99" in stale.text and 'id="unknown-camera"' in stale.text
    assert 'id="unknown-camera"' not in client.get(ALL, params={"camera": "cong-truong"}).text


def test_list_shows_kinds_labels_scores_and_zones_in_vietnamese_and_english(login, seed) -> None:
    client = login("duty")
    ev = seed.events
    html = client.get(ALL).text
    bike = _text(_row(html, ev["gate_motorbike"].id))
    assert "Phương tiện" in bike and "xe máy 91%" in bike and "cổng trường" in bike
    assert "người 78%" in _text(_row(html, ev["yard_person"].id))
    assert "Người" in _text(_row(html, ev["yard_person"].id))
    tamper = _text(_row(html, ev["gate_tamper"].id))
    assert "Che/xoay camera (phá hoại)" in tamper and "bị che" in tamper
    assert f'src="/media/events/{ev["gate_tamper"].id}/snapshot.jpg"' in _row(html, ev["gate_tamper"].id)
    offline = _text(_row(html, ev["gate_offline"].id))
    assert "Mất tín hiệu" in offline and "45:00" in offline and "Không có" in offline
    assert "Chuyển động" in _text(_row(html, ev["school_noon"].id))
    assert "Tất cả loại" in html and "Tất cả nhãn" in html and "Khu vực" in html

    client.get("/lang/en")
    html = client.get(ALL).text
    bike = _text(_row(html, ev["gate_motorbike"].id))
    assert "Vehicle" in bike and "motorbike 91%" in bike and "cổng trường" in bike
    assert "Person" in _text(_row(html, ev["yard_person"].id))
    tamper = _text(_row(html, ev["gate_tamper"].id))
    assert "Camera covered or turned (tampering)" in tamper and "covered" in tamper
    assert "Signal lost" in _text(_row(html, ev["gate_offline"].id))
    assert "Motion" in _text(_row(html, ev["school_noon"].id))
    assert "All kinds" in html and "All labels" in html and ">bus</option>" in html


def test_event_page_shows_labels_scores_zones(login, seed) -> None:
    client = login("duty")
    html = client.get(f"/events/{seed.events['gate_motorbike'].id}").text
    labels = re.search(r'<dd id="event-labels">(.*?)</dd>', html, re.S)
    zones = re.search(r'<dd id="event-zones">(.*?)</dd>', html, re.S)
    assert labels and _text(labels.group(1)) == "xe máy 91%"
    assert zones and _text(zones.group(1)) == "cổng trường"
    assert 'id="event-detail"' not in html  # no detail stored, no empty row
    assert '<video id="clip"' not in html and 'id="no-clip"' in html  # its clip is not cut yet


def test_offline_event_has_no_player_but_its_duration(login, seed) -> None:
    ev = seed.events["gate_offline"]
    client = login("investigator")
    html = client.get(f"/events/{ev.id}").text
    assert "<video" not in html and "clip.mp4" not in html
    assert 'id="no-footage"' in html
    assert "Mất tín hiệu trong 45:00" in html
    assert "camera 10.0.0.11 did not answer" in html  # the detail
    assert "không kết nối được" in html  # its status label in words
    assert 'id="tag-form"' not in html and 'id="tag-no-footage"' in html
    client.get("/lang/en")
    english = client.get(f"/events/{ev.id}").text
    assert "No signal for 45:00" in english and "<video" not in english and "no answer" in english


def test_tamper_event_shows_its_snapshot(login, seed) -> None:
    ev = seed.events["gate_tamper"]
    client = login("duty")
    html = client.get(f"/events/{ev.id}").text
    assert f'<img id="snapshot" src="/media/events/{ev.id}/snapshot.jpg"' in html
    assert "Ảnh lúc camera bị che/xoay" in html
    assert "Che/xoay camera (phá hoại)" in html and "bị che" in html
    assert "camera view covered" in html
    snapshot = client.get(f"/media/events/{ev.id}/snapshot.jpg")
    assert snapshot.status_code == 200 and snapshot.content[:2] == b"\xff\xd8"
