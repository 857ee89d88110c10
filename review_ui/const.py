"""Constants of the review UI."""

PAGE_SIZE = 20  # events per page in the HTML list
API_DEFAULT_LIMIT = 50
API_MAX_LIMIT = 500
API_MAX_OFFSET = 10_000_000
# Who may do what: every write endpoint checks one of these (tests/review_ui/test_permissions.py holds the matrix,
# README.md shows it). Reading (events, clips, cases, health) is open to every logged-in role.
TAGGING_ROLES = ("admin", "investigator")  # open a case, tag a clip as evidence
EXPORT_ROLES = ("admin", "investigator")  # export a case bundle
USER_ADMIN_ROLES = ("admin",)  # list, create and change users, reset their passwords, revoke anyone's API token
CAMERA_ADMIN_ROLES = ("admin",)  # test a connection, register, edit, disable and retire cameras; the site summary
SESSION_COOKIE = "matthan_session"
MEDIA_TYPES = {".mp4": "video/mp4", ".ts": "video/mp2t", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".png": "image/png"}
# Immutable objects: the browser may keep them, but only privately (they are police evidence, not public assets).
MEDIA_CACHE_CONTROL = "private, max-age=3600"
# What the filters offer; the words for each are in i18n (kind_*, label_*). Stored codes outside these still show.
EVENT_KINDS = ("motion", "vehicle", "person", "tamper", "offline")
OBJECT_LABELS = ("motorbike", "car", "bus", "truck", "bicycle", "person")
TAMPER_REASONS = ("covered", "turned")
ZONE_MAX = 100  # config.inventory allows zone names of 1..100 characters
# Live wall: tiles per screen the viewer may choose; how long a camera's pull stays open after its last viewer
# (flicking between the wall and a large view must not reconnect the camera); how old a fallback snapshot may be.
LIVE_LAYOUTS = (1, 4, 9, 16)
LIVE_GRACE_S = 10.0
LIVE_SNAPSHOT_MAX_AGE_S = 2.0
