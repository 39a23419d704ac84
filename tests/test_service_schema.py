"""Schemathesis against /openapi.json of a live server: generated requests never get a 5xx, one at a time
(every operation, valid and invalid input) and in sequences that follow the schema's links."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis.stateful import Bundle, rule
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.generation.stateful.state_machine import StepInput, StepOutput
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ensure_resource_availability,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)
from service_live import LiveServer, crop_bytes, live_settings

EXAMPLES_PER_OPERATION = 10  # per operation and generation mode (positive, negative)
SCENARIOS, STEPS = 40, 8  # stateful: sequences, and calls in each
STATEFUL_CHECKS = [
    not_a_server_error,
    use_after_free,  # a deleted item is gone for GET and its image
    ensure_resource_availability,  # an uploaded item can be fetched at once
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
QUIET = {"deadline": None, "derandomize": True, "suppress_health_check": list(HealthCheck), "database": None}


@pytest.fixture
def live(micro_bundle: Path, tmp_path: Path) -> Iterator[LiveServer]:
    streams = {"stream_max_s": 0.5, "stream_keepalive_s": 0.2}  # GET /alerts/stream ends for each case
    with LiveServer(live_settings(micro_bundle, tmp_path, alerts=streams)) as server:
        yield server


@pytest.mark.slow
def test_generated_requests_get_no_server_errors(live: LiveServer) -> None:
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    failures: list[str] = []
    seen: list[int] = []

    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES_PER_OPERATION, **QUIET)
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
    assert live.client().get("/health").json()["ready"]


@pytest.mark.slow
def test_linked_sequences_get_no_server_errors(live: LiveServer) -> None:
    """The stateful phase: upload -> get, image, delete -> get again, following the schema's links."""
    # The gallery's links only: with every operation, sequences spread over cameras and watchlists
    # and a derandomized run may never follow upload -> get.
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json").include(path_regex="^/gallery")
    upload = schema["/gallery"]["POST"]
    calls: Counter[tuple[str, str, int]] = Counter()

    class Workflow(schema.as_state_machine()):
        @rule(target=Bundle("catch_all"), case=upload.as_strategy())
        def upload_crops(self, case: schemathesis.Case) -> StepOutput:
            """Start a sequence with an upload of real crops. Schemathesis would not start one here: it
            reads the form's `external_id` as a reference to an "External" resource nothing creates."""
            if isinstance(case.body, dict) and case.body.get("files"):
                files = case.body["files"]
                case.body["files"] = [crop_bytes(len(f) * 7919 + i) for i, f in enumerate(files)]
            self.recorder.record_case(case=case)
            return self.step(StepInput.initial(case))

        def after_call(self, response: Any, case: schemathesis.Case) -> None:
            super().after_call(response, case)
            calls[(case.method, case.path, response.status_code)] += 1

        def teardown(self) -> None:
            """Empty the gallery, so every sequence starts from the same state (Hypothesis replays
            choices and expects them to lead where they led before)."""
            with live.client() as http:
                for item in http.get("/gallery", params={"limit": 500}).json()["items"]:
                    http.delete(f"/gallery/{item['id']}")
            super().teardown()

        def validate_response(
            self, response: Any, case: schemathesis.Case, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            """Our checks, not the defaults: those also demand 401s, and keys are optional here."""
            case.validate_response(
                response, checks=STATEFUL_CHECKS, transport_kwargs=kwargs or None, recorder=self.recorder
            )

    Workflow.run(settings=settings(max_examples=SCENARIOS, stateful_step_count=STEPS, **QUIET))
    assert calls[("POST", "/gallery", 200)] > 0
    for linked in ("/gallery/{item_id}", "/gallery/{item_id}/image"):  # links were followed, not guessed
        assert calls[("GET", linked, 200)] > 0 and calls[("GET", linked, 404)] > 0
    assert calls[("DELETE", "/gallery/{item_id}", 200)] > 0
    assert live.client().get("/health").json()["ready"]
