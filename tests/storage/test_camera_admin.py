"""Camera administration in the repository: register, edit, disable, retire — each an audit entry by the
administrator, the password encrypted and never in an entry — and the site summary."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from config.inventory import CameraConfig, FundingConfig, Inventory
from config.settings import Settings
from storage.credentials import CredentialCipher
from storage.db import Database
from storage.errors import Conflict
from storage.models import AuditEntry, Camera
from storage.repo.camera_admin import (
    CameraInputError, camera_config, create_camera, resolve_stream, retire_camera, set_camera_enabled, site_summary,
    update_camera,
)
from storage.repo.cameras import camera_sources, get_camera, import_inventory, list_cameras

SECRET = "Mk-cam-moi-2026"
INVENTORY = {
    "site": {"code": "thuan-quy", "name": "Xã Thuận Quý"},
    "recorders": [{"code": "nvr-1", "vendor": "hikvision", "host": "192.168.1.64", "username": "admin",
                   "password": "nvr-pass-1", "channels": 8,
                   "funding": {"source": "state_budget", "amount_vnd": 6_500_000}}],
    "cameras": [{"code": "cho-xa", "name": "Chợ xã", "main_url": "rtsp://10.0.0.12:554/stream1",
                 "funding": {"source": "community", "amount_vnd": 3_000_000}}],
}


@pytest.fixture
def cipher(settings: Settings) -> CredentialCipher:
    return CredentialCipher(settings.security.credentials_key.get_secret_value())


@pytest.fixture
def site(db: Database, cipher: CredentialCipher) -> Database:
    with db.session() as s:
        import_inventory(session=s, inventory=Inventory.model_validate(INVENTORY), cipher=cipher)
    return db


def new_camera(**changes: object) -> CameraConfig:
    values: dict[str, object] = dict(
        code="cam-14", name="Ngã ba nhà văn hóa", village="Thôn 4", address="Đường liên xã, Thôn 4",
        latitude=11.9404, longitude=108.4583, view="Ngã ba, hướng về chợ", main_url="rtsp://10.0.0.14:554/main",
        sub_url="rtsp://10.0.0.14:554/sub", username="admin", password=SecretStr(SECRET),
        funding=FundingConfig(source="donor", donor="Công ty TNHH Minh Phát", amount_vnd=4_200_000,
                              date=dt.date(2026, 11, 2)),
        installed_on=dt.date(2026, 11, 20), installer="Điện tử Hòa Bình")
    values.update(changes)
    return CameraConfig(**values)  # type: ignore[arg-type]


def entries(db: Database, subject: str) -> list[AuditEntry]:
    with db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.subject == subject).order_by(AuditEntry.id)))


def test_register_edit_disable_retire_each_audited_without_the_password(site: Database,
                                                                        cipher: CredentialCipher) -> None:
    db = site
    with db.session() as s:
        cam = create_camera(session=s, config=new_camera(), cipher=cipher, actor="quantri")
        assert cam.password_encrypted and SECRET not in cam.password_encrypted
        assert cipher.decrypt(cam.password_encrypted) == SECRET
        assert SECRET in camera_sources(session=s, cipher=cipher)[0].record_url  # joined only to open the stream
    with db.session() as s:
        cam = get_camera(session=s, code="cam-14")
        config = camera_config(session=s, cam=cam, cipher=cipher)
        assert config.funding.amount_vnd == 4_200_000 and config.password.get_secret_value() == SECRET
        update_camera(session=s, cam=cam, config=config.model_copy(update={"name": "Ngã ba NVH",
                                                                           "password": SecretStr("Mk-moi-2")}),
                      cipher=cipher, actor="quantri")
    with db.session() as s:
        cam = get_camera(session=s, code="cam-14")
        set_camera_enabled(session=s, cam=cam, enabled=False, cipher=cipher, actor="quantri")
        assert [x.code for x in camera_sources(session=s, cipher=cipher)] == ["cho-xa"]
        set_camera_enabled(session=s, cam=cam, enabled=True, cipher=cipher, actor="quantri")
        retire_camera(session=s, cam=cam, reason="Hỏng do sét", cipher=cipher, actor="quantri")
        assert [x.code for x in camera_sources(session=s, cipher=cipher)] == ["cho-xa"]
        assert [c.code for c in list_cameras(session=s, retired=False)] == ["cho-xa"]
        assert [c.code for c in list_cameras(session=s)] == ["cam-14", "cho-xa"]  # kept for history
    with db.session() as s:
        cam = get_camera(session=s, code="cam-14")
        assert cam.retired_at is not None and not cam.enabled and cam.retired_reason == "Hỏng do sét"
        with pytest.raises(Conflict, match="retired"):
            set_camera_enabled(session=s, cam=cam, enabled=True, cipher=cipher, actor="quantri")
        with pytest.raises(Conflict, match="retired"):
            update_camera(session=s, cam=cam, config=camera_config(session=s, cam=cam, cipher=cipher),
                          cipher=cipher, actor="quantri")

    trail = entries(db, "camera:cam-14")
    assert [e.action for e in trail] == ["camera.create", "camera.update", "camera.disable", "camera.enable",
                                         "camera.retire"]
    assert {e.actor for e in trail} == {"quantri"}
    created = trail[0].details
    assert created["amount_vnd"] == 4_200_000 and created["funding_source"] == "donor"
    assert created["donor"] == "Công ty TNHH Minh Phát" and created["funded_on"] == "2026-11-02"
    assert created["password"] == "set" and created["latitude"] == 11.9404
    assert trail[1].details == {"name": ["Ngã ba nhà văn hóa", "Ngã ba NVH"], "password": "changed"}
    assert trail[2].details == {"enabled": [True, False]}
    assert trail[4].details["retired_reason"] == ["", "Hỏng do sét"]
    assert trail[4].details["retired_at"][0] is None and trail[4].details["retired_at"][1]
    text = json.dumps([e.details for e in trail], ensure_ascii=False)
    assert SECRET not in text and "Mk-moi-2" not in text


def test_codes_stay_unique_and_recorder_channels_take_the_recorder_login(site: Database,
                                                                         cipher: CredentialCipher) -> None:
    with site.session() as s:
        with pytest.raises(Conflict, match="exists already"):
            create_camera(session=s, config=new_camera(code="cho-xa"), cipher=cipher, actor="quantri")
        on_nvr = new_camera(code="cam-15", main_url=None, sub_url=None, recorder="nvr-1", channel=3, username="",
                            password=SecretStr(""))
        target = resolve_stream(session=s, config=on_nvr, cipher=cipher)
        assert target.main_url == "rtsp://192.168.1.64:554/Streaming/Channels/301"
        assert target.sub_url == "rtsp://192.168.1.64:554/Streaming/Channels/302"
        assert (target.username, target.password) == ("admin", "nvr-pass-1")
        cam = create_camera(session=s, config=on_nvr, cipher=cipher, actor="quantri")
        assert cam.recorder_id is not None and cam.channel == 3 and cam.main_url == target.main_url
        with pytest.raises(CameraInputError, match="channels 1..8"):
            resolve_stream(session=s, config=on_nvr.model_copy(update={"channel": 9}), cipher=cipher)
        with pytest.raises(CameraInputError, match="no recorder"):
            resolve_stream(session=s, config=on_nvr.model_copy(update={"recorder": "nvr-9"}), cipher=cipher)
        assert camera_config(session=s, cam=cam, cipher=cipher).recorder == "nvr-1"


def test_site_summary_counts_states_and_sums_funding(site: Database, cipher: CredentialCipher) -> None:
    with site.session() as s:
        create_camera(session=s, config=new_camera(), cipher=cipher, actor="quantri")
        create_camera(session=s, config=new_camera(code="cam-15", funding=FundingConfig(source="community",
                                                                                     amount_vnd=2_500_000)),
                      cipher=cipher, actor="quantri")
        retire_camera(session=s, cam=get_camera(session=s, code="cam-15"), reason="", cipher=cipher,
                      actor="quantri")
        create_camera(session=s, config=new_camera(code="cam-16", enabled=False, funding=FundingConfig()),
                      cipher=cipher, actor="quantri")
        s.scalars(select(Camera).where(Camera.code == "cho-xa")).one().status = "online"
    with site.session() as s:
        summary = site_summary(session=s)
    assert (summary.active, summary.disabled, summary.retired, summary.online) == (2, 1, 1, 1)
    assert summary.site_name == "Xã Thuận Quý"
    assert summary.cameras_vnd == 3_000_000 + 4_200_000 + 2_500_000 and summary.recorders_vnd == 6_500_000
    assert summary.total_vnd == 16_200_000
    assert summary.by_source == {"state_budget": 6_500_000, "community": 5_500_000, "donor": 4_200_000}
