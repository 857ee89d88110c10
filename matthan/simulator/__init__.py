"""Simulated cameras: generated street footage served by a real RTSP server on 127.0.0.1."""
