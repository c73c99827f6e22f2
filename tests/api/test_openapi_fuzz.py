"""The OpenAPI document is valid and the real agent keeps to it under schemathesis' generated
requests: no 5xx, every answer in the documented status codes and shapes. Reads are fuzzed with an
operator token; the writes with a viewer's (every one must be a documented refusal, never an act)
and with an operator's on the commands that cannot start processes."""

from __future__ import annotations

import json
import os

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.checks import positive_data_acceptance

from .conftest import ApiStack

SAFE_WRITES = ("/api/v1/abort", "/api/v1/rollback", "/api/v1/switch", "/api/v1/approve", "/api/v1/promote")


@pytest.fixture(scope="module")
def api_schema(shared_api_stack: ApiStack) -> schemathesis.BaseSchema:
    doc = httpx.get(shared_api_stack.url + "/api/v1/openapi.json", timeout=10).json()
    validate(doc)  # a valid OpenAPI 3.1 document before anything is generated from it
    del doc["paths"]["/api/v1/events"]  # an endless stream: tested on its own below
    schema = schemathesis.openapi.from_dict(doc)
    schema.config.base_url = shared_api_stack.url
    stack = shared_api_stack

    @schema.auth(refresh_interval=None)
    class Tokens:
        """The credentials, given to schemathesis as auth (so its auth checks know them)."""

        def get(self, case: schemathesis.Case, ctx: object) -> str:
            # deploy and the alerts go with a viewer token: a documented 403, nothing starts
            return stack.operator if case.method == "GET" or case.path in SAFE_WRITES else stack.viewer

        def set(self, case: schemathesis.Case, token: str, ctx: object) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}

    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=int(os.environ.get("TURNOUT_FUZZ_EXAMPLES", "25")), deadline=None,
          suppress_health_check=list(HealthCheck))
def test_the_agent_keeps_to_its_openapi_document(case: schemathesis.Case, shared_api_stack: ApiStack) -> None:
    # canary steps must also rise, which a schema cannot say: such a valid-looking body is a usage error
    excluded = [positive_data_acceptance] if case.path == "/api/v1/promote" else []
    # A query value generated as a one-element list is sent as `since=0.0`, the wire form of a valid
    # value: set it as that value so schemathesis judges the request it really sends.
    if case.query:
        case.query = {k: v[0] if isinstance(v, list) and len(v) == 1 else v
                      for k, v in case.query.items() if v != []}
    case.call_and_validate(excluded_checks=excluded)


def test_the_event_stream_sends_status_and_traffic(shared_api_stack: ApiStack) -> None:
    seen: list[str] = []
    headers = {"Authorization": f"Bearer {shared_api_stack.viewer}"}
    with httpx.stream("GET", shared_api_stack.url + "/api/v1/events", headers=headers, timeout=10) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        for line in resp.iter_lines():
            if line.startswith("event: "):
                seen.append(line.removeprefix("event: "))
            if line.startswith("data: "):
                json.loads(line.removeprefix("data: "))
            if len(seen) >= 4:
                break
    assert seen[:2] == ["status", "traffic"] and seen[2:4] == ["status", "traffic"]
