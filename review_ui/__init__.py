"""Review UI: event review pages, evidence tagging into cases, and the JSON API (FastAPI)."""
