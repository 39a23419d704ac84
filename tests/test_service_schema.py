"""Schemathesis against /openapi.json of a live server: generated requests never get a 5xx."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from service_live import LiveServer, live_settings

EXAMPLES_PER_OPERATION = 10  # per operation and generation mode (positive, negative)


@pytest.mark.slow
def test_generated_requests_get_no_server_errors(micro_bundle: Path, tmp_path: Path) -> None:
    with LiveServer(live_settings(micro_bundle, tmp_path)) as live:
        schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 8
        failures: list[str] = []
        seen: list[int] = []

        for operation, mode in itertools.product(operations, GenerationMode):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def check(case: schemathesis.Case) -> None:
                response = case.call(timeout=30)
                seen.append(response.status_code)
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path}: {response.text[:300]}")
                elif response.status_code >= 400 and case.path != "/health":
                    error = response.json()["error"]
                    assert error["status"] == response.status_code and error["request_id"]

            try:
                check()
            except Unsatisfiable:  # nothing to make invalid: the operation takes no input
                assert mode is GenerationMode.NEGATIVE
        assert not failures, failures[:5]
        assert any(400 <= status < 500 for status in seen) and 200 in seen
        health = live.client().get("/health").json()
        assert health["ready"]
