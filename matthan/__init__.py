"""Mắt Thần composition root: the CLI and the wiring of config, storage, ingest, detect and review_ui."""
