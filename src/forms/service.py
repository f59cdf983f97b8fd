"""Form templates: per clinic, typed fields, versioned (an edit is a new version).

Every function takes a tenant connection inside a transaction.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg
import msgspec

from calendars.catalog import calendars_requiring_form
from carebook.errors import Conflict, NotFound
from forms.fields import check_template_fields
from forms.schemas import FieldSpec, TemplateEdit, TemplateIn, TemplateOut

_TEMPLATE = """
SELECT t.id, t.phase, v.version, v.name, v.description, v.fields::text AS fields,
       t.archived_at IS NOT NULL AS archived, t.created_at, t.updated_at
FROM form_templates t
JOIN form_template_versions v ON v.template_id = t.id AND v.version = {version}
"""
_FIELDS = msgspec.json.Decoder(list[FieldSpec])


def decode_fields(text: str) -> list[FieldSpec]:
    return _FIELDS.decode(text)


def encode_fields(fields: list[FieldSpec]) -> str:
    return msgspec.json.encode(fields).decode()


def _template(row: asyncpg.Record) -> TemplateOut:
    return TemplateOut(**{**dict(row), "fields": decode_fields(row["fields"])})


def _not_found() -> NotFound:
    return NotFound("No such form.", code="form_not_found")


async def list_templates(
    conn: asyncpg.Connection, phase: str | None = None, include_archived: bool = False
) -> list[TemplateOut]:
    rows = await conn.fetch(
        _TEMPLATE.format(version="t.current_version")
        + """ WHERE ($1::text IS NULL OR t.phase = $1) AND ($2 OR t.archived_at IS NULL)
              ORDER BY v.name, t.id""",
        phase,
        include_archived,
    )
    return [_template(r) for r in rows]


async def get_template(
    conn: asyncpg.Connection, template_id: UUID, version: int | None = None
) -> TemplateOut:
    """The current version of a template, or the given one."""
    row = await conn.fetchrow(
        _TEMPLATE.format(version="coalesce($2, t.current_version)") + " WHERE t.id = $1",
        template_id,
        version,
    )
    if row is None:
        raise _not_found()
    return _template(row)


async def create_template(
    conn: asyncpg.Connection, data: TemplateIn, staff_id: UUID | None
) -> TemplateOut:
    check_template_fields(data.fields)
    template_id: UUID = await conn.fetchval(
        "INSERT INTO form_templates (phase) VALUES ($1) RETURNING id", data.phase
    )
    await conn.execute(
        """INSERT INTO form_template_versions
               (template_id, version, name, description, fields, created_by)
           VALUES ($1, 1, $2, $3, $4::jsonb, $5)""",
        template_id,
        data.name,
        data.description,
        encode_fields(data.fields),
        staff_id,
    )
    return await get_template(conn, template_id)


async def edit_template(
    conn: asyncpg.Connection, template_id: UUID, data: TemplateEdit, staff_id: UUID | None
) -> TemplateOut:
    """A new version (answers already given keep pointing at theirs); no change, no version."""
    check_template_fields(data.fields)
    locked = await conn.fetchrow(
        "SELECT archived_at FROM form_templates WHERE id = $1 FOR UPDATE", template_id
    )
    if locked is None:
        raise _not_found()
    if locked["archived_at"] is not None:
        raise Conflict("This form is archived.", code="form_archived")
    current = await get_template(conn, template_id)
    if (current.name, current.description, current.fields) == (
        data.name,
        data.description,
        data.fields,
    ):
        return current
    await conn.execute(
        """INSERT INTO form_template_versions
               (template_id, version, name, description, fields, created_by)
           VALUES ($1, $2, $3, $4, $5::jsonb, $6)""",
        template_id,
        current.version + 1,
        data.name,
        data.description,
        encode_fields(data.fields),
        staff_id,
    )
    await conn.execute(
        "UPDATE form_templates SET current_version = $2, updated_at = now() WHERE id = $1",
        template_id,
        current.version + 1,
    )
    return await get_template(conn, template_id)


async def archive_template(conn: asyncpg.Connection, template_id: UUID) -> None:
    """Archive (never delete: instances keep their questions). Refused while a calendar
    requires the form."""
    users = await calendars_requiring_form(conn, template_id)
    if users:
        names = ", ".join(name for _, name in users)
        raise Conflict(
            f"Calendars require this form: {names}. Remove it from them first.",
            code="form_in_use",
            extra={"calendars": [str(cid) for cid, _ in users]},
        )
    try:
        status = await conn.execute(
            "UPDATE form_templates SET archived_at = coalesce(archived_at, now()), "
            "updated_at = now() WHERE id = $1",
            template_id,
        )
    except asyncpg.ForeignKeyViolationError as exc:  # a calendar took it meanwhile
        raise Conflict("A calendar requires this form.", code="form_in_use") from exc
    if status.endswith(" 0"):
        raise _not_found()
