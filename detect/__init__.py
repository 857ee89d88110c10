"""Detection: motion on a small grey frame, motion periods into events with snapshot and clip."""
