"""Which detector classes matter here, by model class name, with Vietnamese and English labels and the event kind."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ObjectClass:
    key: str  # our label key, stored on events: "motorbike"
    model_names: tuple[str, ...]  # class names a model may use for it (COCO first), compared lower-case
    vi: str
    en: str
    kind: str  # the event kind it raises: "vehicle" or "person"


# Priority order: an event showing several classes is labelled by the first. Motorbikes are most of the street here.
CLASSES: tuple[ObjectClass, ...] = (
    ObjectClass("motorbike", ("motorcycle", "motorbike"), "xe máy", "motorbike", "vehicle"),
    ObjectClass("car", ("car",), "ô tô", "car", "vehicle"),
    ObjectClass("bus", ("bus",), "xe buýt", "bus", "vehicle"),
    ObjectClass("truck", ("truck",), "xe tải", "truck", "vehicle"),
    ObjectClass("bicycle", ("bicycle",), "xe đạp", "bicycle", "vehicle"),
    ObjectClass("person", ("person",), "người", "person", "person"),
)
BY_KEY: dict[str, ObjectClass] = {c.key: c for c in CLASSES}
_BY_MODEL_NAME: dict[str, ObjectClass] = {name: c for c in CLASSES for name in c.model_names}
KINDS = ("vehicle", "person")


def from_model_name(name: str) -> ObjectClass | None:
    """Our class for a detector's class name (e.g. COCO "motorcycle"), or None for classes we ignore."""
    return _BY_MODEL_NAME.get(name.strip().lower())


def get(key: str) -> ObjectClass:
    """Our class by label key; KeyError names the known keys."""
    try:
        return BY_KEY[key]
    except KeyError:
        raise KeyError(f"unknown object label {key!r}; known: {', '.join(BY_KEY)}") from None


def priority(key: str) -> int:
    """Sort key: lower comes first."""
    return CLASSES.index(get(key))


def label(key: str, language: str = "vi") -> str:
    """The label people read, in "vi" or "en"."""
    cls = get(key)
    return cls.vi if language == "vi" else cls.en
