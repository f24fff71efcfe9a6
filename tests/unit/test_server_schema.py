"""schemathesis against the server's own OpenAPI schema (/openapi.json): whatever it generates —
valid bodies, odd values, wrong types — the server never answers 5xx. Bounded: a few dozen
examples per operation."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from tests.unit.test_server_admission import PacedBackend, app_for

# schemathesis's client names a host of its own; the Host allow-list has tests of its own.
app = app_for(PacedBackend(tokens=3, delay=0.0), max_body=256 * 1024, allowed_hosts=("*",))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_request_the_schema_allows_makes_a_5xx(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
