"""Camera-down alerts: a camera not recording for longer than `alerts.offline_after_minutes` raises an alert (the pages'
banner and the health page read it), resolved when it records again; each change can be POSTed to a webhook."""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import httpx

from config.settings import AlertsConfig
from storage.db import Database
from storage.periodic import run_every
from storage.models import utcnow
from storage.repo.health import (CAMERA_OFFLINE, camera_alert_node, cameras_down, down_since, open_camera_alerts,
                                 raise_alert, resolve_alert)

logger = logging.getLogger(__name__)
WEBHOOK_QUEUE = 1000  # notifications waiting for a slow or dead webhook; beyond this the oldest are dropped (logged)
WEBHOOK_TRIES = 3


@dataclass(frozen=True)
class AlertNotice:
    """What the webhook receives, as JSON."""

    state: str  # raised | resolved
    code: str
    level: str
    camera: str
    camera_name: str
    message: str
    since_utc: str
    at_utc: str


class WebhookSender:
    """POSTs notices in its own thread, a few tries each, so a slow endpoint never holds up the health loop."""

    def __init__(self, url: str, *, timeout_s: float) -> None:
        self.url, self.timeout_s = url, timeout_s
        self._queue: queue.Queue[AlertNotice | None] = queue.Queue(maxsize=WEBHOOK_QUEUE)
        self._thread = threading.Thread(target=self._run, name="alert-webhook", daemon=True)
        self.sent = 0
        self.failed = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._put(None)
        self._thread.join(timeout)

    def send(self, notice: AlertNotice) -> None:
        self._put(notice)

    def _put(self, item: AlertNotice | None) -> None:
        while True:
            try:
                self._queue.put_nowait(item)
                return
            except queue.Full:
                try:
                    dropped = self._queue.get_nowait()
                    logger.error("alert webhook %s is not keeping up: dropped %s", self.url, dropped)
                except queue.Empty:
                    pass

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout_s) as client:
            while (notice := self._queue.get()) is not None:
                self._deliver(client, notice)

    def _deliver(self, client: httpx.Client, notice: AlertNotice) -> None:
        for attempt in range(1, WEBHOOK_TRIES + 1):
            try:
                answer = client.post(self.url, json={"source": "matthan", **asdict(notice)})
                if answer.status_code < 300:
                    self.sent += 1
                    return
                problem = f"it answered HTTP {answer.status_code}"
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if attempt < WEBHOOK_TRIES:
                time.sleep(2 ** attempt)
        self.failed += 1
        logger.error("alert webhook %s failed %d times (%s); the alert is still on the health page",
                     self.url, WEBHOOK_TRIES, problem)


class CameraAlerts:
    """Raises and resolves one `camera_offline` alert per camera; run `check()` from a loop (see CameraAlertWorker)."""

    def __init__(self, db: Database, config: AlertsConfig, *, camera_ids: Callable[[], set[int] | None] = lambda: None,
                 notify: Callable[[AlertNotice], None] | None = None) -> None:
        self.db, self.config = db, config
        self.camera_ids = camera_ids  # the cameras this node answers for; None = every enabled camera
        self.notify = notify or (lambda notice: None)

    def check(self, now: dt.datetime | None = None) -> list[AlertNotice]:
        now = now or utcnow()
        threshold = dt.timedelta(minutes=self.config.offline_after_minutes)
        scope = self.camera_ids()
        notices = []
        with self.db.session() as session:
            down = {c.code: c for c in cameras_down(session=session, longer_than=threshold, now=now, camera_ids=scope)}
            for cam in down.values():
                since = down_since(cam) or now
                message = (f"camera {cam.name} ({cam.code}) has not recorded for "
                           f"{(now - since).total_seconds() / 60:.0f} min (state {cam.status}): "
                           f"{cam.status_detail or 'no detail'}")
                if raise_alert(session=session, code=CAMERA_OFFLINE, level="critical",
                               node=camera_alert_node(cam.code), message=message):
                    logger.error("ALERT %s", message)
                    notices.append(self._notice("raised", cam.code, cam.name, message, since, now))
            for alert, cam in open_camera_alerts(session=session, camera_ids=scope):
                if cam is not None and cam.code in down:
                    continue
                resolve_alert(session=session, code=CAMERA_OFFLINE, node=alert.node)
                code = cam.code if cam else alert.node.removeprefix("camera:")
                name = cam.name if cam else code
                if cam is not None and cam.status == "online":
                    message = f"camera {name} ({code}) records again"
                else:  # disabled, retired or removed: nobody expects it to record
                    message = f"camera {name} ({code}) is no longer watched"
                logger.warning("alert resolved: %s", message)
                notices.append(self._notice("resolved", code, name, message, alert.raised_at, now))
        for notice in notices:  # after the commit: the webhook never reports what the database did not keep
            self.notify(notice)
        return notices

    @staticmethod
    def _notice(state: str, code: str, name: str, message: str, since: dt.datetime | None,
                now: dt.datetime) -> AlertNotice:  # fmt: skip
        return AlertNotice(state=state, code=CAMERA_OFFLINE, level="critical" if state == "raised" else "info",
                           camera=code, camera_name=name, message=message,
                           since_utc=(since or now).isoformat(), at_utc=now.isoformat())  # fmt: skip


class CameraAlertWorker:
    """The loop around CameraAlerts, with the optional webhook; started and stopped by the composition root."""

    def __init__(self, db: Database, config: AlertsConfig, *, interval_s: float = 10.0,
                 camera_ids: Callable[[], set[int] | None] = lambda: None) -> None:  # fmt: skip
        self.webhook = WebhookSender(config.webhook_url, timeout_s=config.webhook_timeout_s) \
            if config.webhook_url else None
        self.alerts = CameraAlerts(db, config, camera_ids=camera_ids,
                                   notify=self.webhook.send if self.webhook else None)  # fmt: skip
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="camera-alerts", daemon=True)

    def start(self) -> None:
        if self.webhook:
            self.webhook.start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        if self.webhook:
            self.webhook.stop()

    def _run(self) -> None:
        run_every(self.interval_s, self.alerts.check, stop=self._stop, logger=logger,
                  not_done="camera alerts not checked", failed="camera alert check failed")
