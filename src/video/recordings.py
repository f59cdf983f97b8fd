"""Recordings of built-in calls: accepted only from the room's owner (the specialist), only
while the clinic allows recording and the patient's latest decision is consent; stored in the
clinic's storage folder (``<data dir>/recordings/<clinic schema>/``)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from carebook.errors import CarebookError, Conflict, Forbidden, ValidationFailed
from carebook.settings import get_settings
from carebook.tenancy import Tenant, tenant_tx
from video import access

MAX_RECORDING_BYTES = 1024 * 1024 * 1024  # 1 GiB: about two hours of 720p WebM
CONTENT_TYPES = ("video/webm", "video/mp4", "audio/webm")


class RecordingTooLarge(CarebookError):
    status, code, title = 413, "recording_too_large", "The recording is too large"


def storage_dir(tenant: Tenant) -> Path:
    return get_settings().data_dir / "recordings" / tenant.schema


async def store(
    tenant: Tenant,
    appointment_id: str,
    token: str | None,
    content_type: str,
    chunks: AsyncIterator[bytes],
) -> dict[str, Any]:
    who = await access.resolve(tenant, appointment_id, token)
    if not who.owner:
        raise Forbidden("Only the specialist's browser records.", code="not_room_owner")
    kind = content_type.split(";")[0].strip().lower()
    if kind not in CONTENT_TYPES:
        raise ValidationFailed.field("content-type", f"One of {', '.join(CONTENT_TYPES)}.")
    async with tenant_tx(tenant) as conn:
        consent = await conn.fetchrow(
            "SELECT id, decision FROM video_recording_consents WHERE appointment_id = $1 "
            "ORDER BY id DESC LIMIT 1",
            who.appointment_id,
        )
    if not tenant.settings.recording_allowed or consent is None or consent["decision"] != "given":
        raise Conflict(
            "Recording needs the clinic's permission and the patient's consent.",
            code="recording_not_allowed",
        )
    folder = storage_dir(tenant)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{who.appointment_id}-{stamp}-{secrets.token_hex(4)}.webm"
    size = 0
    try:
        with path.open("wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > MAX_RECORDING_BYTES:
                    raise RecordingTooLarge(f"At most {MAX_RECORDING_BYTES} bytes.")
                out.write(chunk)
        if size == 0:
            raise ValidationFailed("The recording is empty.", code="recording_empty")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    async with tenant_tx(tenant) as conn:
        rid = await conn.fetchval(
            "INSERT INTO video_recordings (appointment_id, storage_path, content_type, bytes, "
            "consent_id) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            who.appointment_id, str(path), kind, size, consent["id"],
        )  # fmt: skip
    return {"id": str(rid), "bytes": size}
