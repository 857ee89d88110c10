"""Live view: camera streams passed through to browsers over WebRTC (aiortc), snapshots where WebRTC cannot connect."""
