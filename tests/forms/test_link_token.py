"""The link token that messages carry (``cbl_…``, minted by the notifications domain) opens
the patient's forms like the manage token does; another appointment's link token does not."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import httpx

from notifications import service as notifications
from tests.conftest import Clinic
from tests.forms.support import EVERY_TYPE, VALID_ANSWERS, book, create_form
from tests.forms.test_instances import generate, missing
from tests.helpers import problem


async def mailed_token(clinic: Clinic, appointment_id: str) -> str:
    """The token in the manage link of the notifications domain's messages."""
    notice = await notifications.load_notice(clinic.tenant, UUID(appointment_id))
    assert notice is not None
    url = notifications.manage_url(clinic.tenant, notice)
    token: str = parse_qs(urlsplit(url).query)["token"][0]
    assert token.startswith("cbl_")
    return token


async def test_patient_fills_a_form_with_the_e_mailed_link_token(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    form = await create_form(client, clinic, "Health questionnaire", fields=EVERY_TYPE)
    booked = await book(client, clinic, form_ids=[form["id"]])
    other = await book(client, clinic, setup=booked.setup, hour=12)
    await generate(clinic.tenant, booked.appointment_id)
    link = {"X-Manage-Token": await mailed_token(clinic, booked.appointment_id)}
    url = f"{clinic.public}/appointments/{booked.appointment_id}/forms"

    r = await client.get(url, headers=link)
    assert r.status_code == 200, r.text
    [instance] = r.json()
    r = await client.put(f"{url}/{instance['id']}/answers", headers=link,
                         json={"answers": VALID_ANSWERS})  # fmt: skip
    assert r.status_code == 200, r.text
    r = await client.post(f"{url}/{instance['id']}/submit", headers=link)
    assert r.status_code == 200 and r.json()["status"] == "submitted", r.text
    assert await missing(clinic.tenant, booked.appointment_id) == []

    # Another appointment's link token (valid for that one) opens nothing here.
    stranger = {"X-Manage-Token": await mailed_token(clinic, other.appointment_id)}
    problem(await client.get(url, headers=stranger), 404, "appointment_not_found")
    problem(await client.get(url, headers={"X-Manage-Token": "cbl_forged"}), 404,
            "appointment_not_found")  # fmt: skip
