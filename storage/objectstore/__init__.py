"""One object-store interface, two backends: a local directory (default) and S3/MinIO."""

from __future__ import annotations

from config.settings import ObjectStoreConfig
from storage.objectstore.base import ObjectInfo, ObjectStore, StoredObject, validate_key
from storage.objectstore.local import LocalObjectStore
from storage.objectstore.s3 import S3ObjectStore


def open_object_store(config: ObjectStoreConfig) -> ObjectStore:
    if config.backend == "s3":
        return S3ObjectStore(
            endpoint=config.endpoint,
            bucket=config.bucket,
            access_key=config.access_key,
            secret_key=config.secret_key.get_secret_value(),
            secure=config.secure,
            region=config.region,
        )
    return LocalObjectStore(config.path)


__all__ = ["LocalObjectStore", "ObjectInfo", "ObjectStore", "S3ObjectStore", "StoredObject", "open_object_store",
           "validate_key"]
