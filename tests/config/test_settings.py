"""Settings from YAML + environment, placeholder secrets refused, inventory validation, URL masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.inventory import CameraConfig, Inventory, load_inventory, mask_url, with_credentials
from config.settings import ConfigError, load_settings
from storage.credentials import generate_key

GOOD = {"web": {"secret_key": "k" * 40}, "security": {"credentials_key": generate_key()}}


def test_yaml_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(f"web:\n  secret_key: {'k' * 40}\n  port: 8080\nsecurity:\n  credentials_key: {generate_key()}\n"
                    "ingest:\n  segment_seconds: 30\n")
    monkeypatch.setenv("MATTHAN_INGEST__SEGMENT_SECONDS", "15")
    settings = load_settings(path)
    assert settings.web.port == 8080 and settings.ingest.segment_seconds == 15
    assert settings.web.timezone == "Asia/Ho_Chi_Minh" and settings.database.url.startswith("sqlite")


@pytest.mark.parametrize("secret", ["changeme", "short"])
def test_placeholder_secret_refused(secret: str) -> None:
    with pytest.raises(ConfigError, match="secret_key"):
        load_settings(None, web={"secret_key": secret}, security=GOOD["security"])


def test_unknown_keys_and_bad_values_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="segment_secs"):
        load_settings(None, ingest={"segment_secs": 5}, **GOOD)
    with pytest.raises(ConfigError, match="segment_seconds"):
        load_settings(None, ingest={"segment_seconds": 0}, **GOOD)
    bad = tmp_path / "bad.yaml"
    bad.write_text("web: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(bad)


def test_s3_needs_real_credentials() -> None:
    with pytest.raises(ConfigError, match="s3 backend"):
        load_settings(None, objectstore={"backend": "s3", "access_key": "a", "secret_key": "minioadmin"}, **GOOD)


def test_inventory_errors_are_clear(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text("site: {code: xa, name: Xã}\ncameras:\n  - {code: c1, name: A, main_url: 'rtsp://u:pw@h/x'}\n")
    with pytest.raises(ConfigError) as err:
        load_inventory(path)
    assert "credentials in username/password" in str(err.value) and "pw@" not in str(err.value)
    with pytest.raises(ValueError, match="unknown recorder"):
        Inventory.model_validate({"site": {"code": "xa", "name": "X"},
                                  "cameras": [{"code": "c1", "name": "A", "recorder": "nvr", "channel": 1}]})


@pytest.mark.parametrize("url, says", [
    ("rtsp://127.0.0.1:8999/a\nb", "no spaces, tabs or line breaks"),  # would split the log lines naming it
    ("rtsp://my host/a", "no spaces, tabs or line breaks"),
    ("rtsp://10.0.0.2:554/a\tb", "no spaces, tabs or line breaks"),
    ("rtsp://10.0.0.2:0/a", "not a number from 1 to 65535"),
    ("rtsp://10.0.0.2:99999/a", "not a number from 1 to 65535"),
    ("rtsp://10.0.0.2:abc/a", "not a number from 1 to 65535"),
    ("http://10.0.0.2/a", "not an RTSP URL"),
])
def test_a_camera_url_that_cannot_work_is_refused_saying_why(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        CameraConfig(code="c1", name="A", main_url=url)


def test_camera_urls_that_work_are_kept_as_given() -> None:
    for url in ("rtsp://10.0.0.2/s", "rtsp://10.0.0.2:8554/cam%201/main?channel=1&subtype=0", "rtsps://[::1]:322/x"):
        assert CameraConfig(code="c1", name="A", main_url=url).main_url == url


def test_masking_and_credentials() -> None:
    url = with_credentials("rtsp://10.0.0.2:554/s", "admin", "p@ss:w/rd")
    assert url == "rtsp://admin:p%40ss%3Aw%2Frd@10.0.0.2:554/s"
    assert mask_url(f"failed to open {url}: 401") == "failed to open rtsp://admin:***@10.0.0.2:554/s: 401"
    assert mask_url("rtsp://10.0.0.2/s") == "rtsp://10.0.0.2/s"
