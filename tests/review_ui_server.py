"""Serve the real review UI with uvicorn in a background thread, on a free port of 127.0.0.1."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from config import Settings
from review_ui.app import create_app
from storage.db import Database
from storage.objectstore import open_object_store


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    db = Database(settings.database.url)
    db.prepare()
    app = create_app(settings, db=db, store=open_object_store(settings.objectstore))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("review UI did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        db.dispose()
