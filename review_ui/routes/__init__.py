"""Server-rendered pages, one router per resource."""
