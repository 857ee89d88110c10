"""Keyword-only repository functions, one module per resource."""
