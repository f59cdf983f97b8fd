"""The clinic's access audit: who viewed or changed which patient's data, when, from where.

``record`` is called inside the transaction that reads or changes the data, so a change and
its audit row commit together (or neither does). The table is append-only (a trigger refuses
UPDATE, DELETE and TRUNCATE). Rows hold ids and a short description, never patient data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from carebook.tenancy import Tenant, tenant_tx
from tenants.staff import StaffPrincipal


@dataclass(frozen=True)
class AuditEvent:
    at: datetime
    staff_name: str | None
    staff_role: str
    action: str
    subject: str
    subject_id: UUID | None
    detail: str
    client_addr: str | None


async def record(
    conn: asyncpg.Connection,
    who: StaffPrincipal,
    action: str,
    subject: str,
    *,
    subject_id: UUID | None = None,
    patient_id: UUID | None = None,
    detail: str = "",
    client_addr: str | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO audit_events
               (staff_user, staff_role, action, subject, subject_id, patient_id, detail,
                client_addr)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        who.id,
        who.role,
        action,
        subject,
        subject_id,
        patient_id,
        detail,
        client_addr,
    )


async def patient_log(conn: asyncpg.Connection, patient_id: UUID) -> list[AuditEvent]:
    """Every recorded access to one patient's data, newest first."""
    rows = await conn.fetch(
        """SELECT e.at, u.name AS staff_name, e.staff_role, e.action, e.subject, e.subject_id,
                  e.detail, e.client_addr
           FROM audit_events e LEFT JOIN staff_users u ON u.id = e.staff_user
           WHERE e.patient_id = $1 ORDER BY e.at DESC, e.id DESC LIMIT 500""",
        patient_id,
    )
    return [AuditEvent(**dict(r)) for r in rows]


async def record_view(
    tenant: Tenant,
    who: StaffPrincipal,
    subject: str,
    *,
    subject_id: UUID | None = None,
    patient_id: UUID | None = None,
    detail: str = "",
    client_addr: str | None = None,
) -> None:
    """One ``view`` row in its own transaction (for reads made elsewhere, e.g. the API)."""
    async with tenant_tx(tenant) as conn:
        if subject == "appointment" and patient_id is None and subject_id is not None:
            patient_id = await conn.fetchval(
                "SELECT patient_id FROM appointments WHERE id = $1", subject_id
            )
        await record(
            conn,
            who,
            "view",
            subject,
            subject_id=subject_id,
            patient_id=patient_id,
            detail=detail,
            client_addr=client_addr,
        )
