"""The OpenAPI document and a readable reference page rendered from it (no CDN: duty rooms may be offline)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from review_ui.deps import CurrentUserDep
from review_ui.templating import render

router = APIRouter(include_in_schema=False)
METHODS = ("get", "post", "put", "patch", "delete")


@router.get("/openapi.json", name="openapi")
def openapi(request: Request, user: CurrentUserDep) -> Response:
    return JSONResponse(request.app.openapi())


def _type_name(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_type_name(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"list[{_type_name(schema.get('items', {}))}]"
    return str(schema.get("format") or schema.get("type") or "any")


def _operations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    ops = []
    for path, item in doc.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            ops.append({
                "method": method.upper(), "path": path, "summary": op.get("summary", ""),
                "description": op.get("description", ""),
                "parameters": [
                    {"name": p["name"], "in": p["in"], "required": p.get("required", False),
                     "type": _type_name(p.get("schema", {})), "description": p.get("description", "")}
                    for p in op.get("parameters", [])
                ],
                "body": _type_name(body) if body else None,
                "responses": sorted(op.get("responses", {})),
            })
    return ops


@router.get("/docs", name="api_docs")
def docs(request: Request, user: CurrentUserDep) -> Response:
    doc = request.app.openapi()
    schemas = {
        name: [(prop, _type_name(spec), prop in schema.get("required", []))
               for prop, spec in schema.get("properties", {}).items()]
        for name, schema in doc.get("components", {}).get("schemas", {}).items()
        if name not in ("HTTPValidationError", "ValidationError")
    }
    return render(request, "api_docs.html", user=user, info=doc.get("info", {}), operations=_operations(doc),
                  schemas=schemas)
