"""Constants of the review UI."""

PAGE_SIZE = 20  # events per page in the HTML list
API_DEFAULT_LIMIT = 50
API_MAX_LIMIT = 500
API_MAX_OFFSET = 10_000_000
TAGGING_ROLES = ("admin", "investigator")
SESSION_COOKIE = "matthan_session"
MEDIA_TYPES = {".mp4": "video/mp4", ".ts": "video/mp2t", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".png": "image/png"}
# Immutable objects: the browser may keep them, but only privately (they are police evidence, not public assets).
MEDIA_CACHE_CONTROL = "private, max-age=3600"
