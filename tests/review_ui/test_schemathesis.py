"""The whole JSON API under property-based requests from its own OpenAPI schema (schemathesis), logged in: no answer
may be a server error, whatever the input."""

from __future__ import annotations

import hypothesis
import pytest
import requests

schemathesis = pytest.importorskip("schemathesis")

EXAMPLES = 25  # per operation; the run stays near a minute


def test_no_server_error_anywhere_in_the_api(login, seed, live_server: str) -> None:
    client = login("investigator")
    spec = client.get("/api/openapi.json").json()
    session = requests.Session()
    session.cookies.update(dict(client.cookies))
    schema = schemathesis.openapi.from_dict(spec)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in ("/api/auth/logout", "/api/auth/password"):
            continue  # these would end or change the session the run is logged in with
        operations += 1

        @hypothesis.settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                             suppress_health_check=list(hypothesis.HealthCheck))  # fmt: skip
        @hypothesis.given(case=operation.as_strategy())
        def run(case) -> None:  # type: ignore[no-untyped-def]
            headers = {"Content-Type": "application/json"} if case.method.upper() != "GET" else {}
            response = case.call(base_url=live_server, session=session, headers=headers)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.query} {case.body!r} -> "
                                f"{response.status_code} {response.text[:200]}")  # fmt: skip

        run()
    assert operations >= 10
    assert not failures, "\n".join(failures[:10])
