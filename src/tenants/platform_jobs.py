"""Platform API of the job outbox: the dead-letter list and its retry (issue 11)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from carebook.errors import NotFound
from carebook.jobs import deadletters
from carebook.openapi import problems
from tenants.guards import PLATFORM


class DeadLettersController(Controller):
    path = "/api/v1/platform/dead-letters"
    tags = ["platform"]
    dependencies = PLATFORM

    @get(
        "/",
        summary="Jobs whose retries are spent (newest first)",
        responses=problems(s401="unauthorized, invalid_token"),
    )
    async def list_(
        self,
        platform_user: NamedDependency[int],
        include_retried: Annotated[
            bool, QueryParameter(description="Also those already retried")
        ] = False,
    ) -> list[dict[str, Any]]:
        return await deadletters.list_dead_letters(include_retried)

    @post(
        "/{dead_letter_id:int}/retry",
        status_code=202,
        summary="Send the job again (same job id: its effect still happens once)",
        responses=problems(s401="unauthorized, invalid_token", s403="csrf_failed",
                           s404="dead_letter_not_found"),
    )  # fmt: skip
    async def retry(
        self, platform_user: NamedDependency[int], dead_letter_id: FromPath[int]
    ) -> dict[str, Any]:
        job_id = await deadletters.retry_dead_letter(dead_letter_id)
        if job_id is None:
            raise NotFound("There is no such dead letter waiting for a retry.",
                           code="dead_letter_not_found")  # fmt: skip
        return {"job_id": job_id, "status": "queued"}


route_handlers: list[Any] = [DeadLettersController]
