"""Camera ingest: stream-copy recording into a spool, upload to the object store, frame reading for detection."""
