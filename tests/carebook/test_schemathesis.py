"""Schemathesis over every operation of the OpenAPI document, with every built-in check.

The operations are read from the live schema, so a route added tomorrow is fuzzed the day it
lands. Bounded and repeatable: a fixed number of examples per operation and a fixed seed.
Clinic routes run against one real clinic with its admin's staff token (its slug fills every
``{clinic}``), platform routes with a platform token; the live-update stream is excluded (it
never ends, so no response can be validated).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import seed as fixed_seed
from schemathesis.config import SchemathesisConfig

from tests.conftest import Clinic, LiveServer

pytestmark = pytest.mark.slow  # about 3 minutes on a shared 2-core machine

MAX_EXAMPLES = int(os.environ.get("CAREBOOK_SCHEMATHESIS_EXAMPLES", "8"))


def _openapi() -> dict[str, Any]:
    """The document the app serves at /schema/openapi.json (built in-process, no server)."""
    from carebook.app import create_app
    from carebook.openapi import document

    return document(create_app())


@pytest.fixture(scope="session")
async def fuzz_clinic(make_clinic: Callable[..., Awaitable[Clinic]]) -> Clinic:
    from tests.bookings.support import bookable

    clinic = await make_clinic()
    await bookable(clinic.tenant)
    return clinic


# Every built-in check runs (server errors, status codes, content types, response schemas and
# headers, Allow, auth, positive/negative data...). One is tuned: a schema-valid request may
# still break a rule no JSON Schema can state (``end`` before ``start``, an IANA zone or ISO
# 4217 code that does not exist, a date at the end of the calendar), which is a 422 with the
# rule's own code. ``schema_valid_data_passes_validation`` keeps the check's teeth: such a
# request must never fail schema-level validation (errors naming their ``source``) nor be
# ``malformed_request``. Negative data may also be refused as 413 (body over 64 KiB).
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]},
        # A body over 64 KiB is refused as 413 before anything reads it.
        "negative_data_rejection": {
            "expected-statuses": ["400", "401", "403", "404", "405", "406", "409", "413", "415",
                                  "422", "428", "429", "5xx"]},
    }}
)  # fmt: skip


@schemathesis.check
def schema_valid_data_passes_validation(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    if response.status_code in (400, 422):
        body = response.json()
        # Schema-level refusals (Litestar's and the strict body check) name the part of the
        # request in `source`; a business rule raised by our code (ValidationFailed.field)
        # does not, whatever its code.
        schema_level = any("source" in e for e in body.get("errors") or [])
        if body.get("code") == "malformed_request" or schema_level:
            raise AssertionError(f"schema-valid request refused: {response.text[:500]}")
    return None


schema = schemathesis.openapi.from_dict(_openapi(), config=CONFIG).exclude(path_regex=r"/events$")


@schema.parametrize()
@fixed_seed(17)
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_conforms(
    case: schemathesis.Case, live_server: LiveServer, fuzz_clinic: Clinic, platform_token: str
) -> None:
    if case.path_parameters and "clinic" in case.path_parameters:
        case.path_parameters["clinic"] = fuzz_clinic.slug
    if case.path.startswith("/api/v1/platform"):
        headers = {"Authorization": f"Bearer {platform_token}"}
    else:
        headers = fuzz_clinic.headers
    case.call_and_validate(base_url=live_server.url, headers=headers, timeout=30)
