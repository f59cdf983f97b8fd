"""The review form on the manage page (plain HTML; works without JavaScript)."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from tests.conftest import Clinic
from tests.reviews.test_reviews import done_appointment
from tests.web.test_pages import is_html


async def test_patient_reviews_from_the_manage_page(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    aid, manage = await done_appointment(client, clinic)
    token = quote(manage["X-Manage-Token"], safe="")
    page_url = f"/c/{clinic.slug}/manage/{aid}?token={token}"
    post_url = f"/c/{clinic.slug}/manage/{aid}/review?token={token}"
    page = is_html(await client.get(page_url), 200)
    assert "How was your appointment?" in page and 'name="rating"' in page
    r = await client.post(post_url, data={"comment": "no stars"})
    assert r.status_code == 303 and "review=rating_missing" in r.headers["location"]
    page = is_html(await client.get(r.headers["location"]), 200)
    assert "Choose a rating from 1 to 5." in page
    r = await client.post(post_url, data={"rating": "2", "comment": "Too long a wait."})
    assert r.status_code == 303 and "review=thanks" in r.headers["location"]
    page = is_html(await client.get(r.headers["location"]), 200)
    assert "Thank you for your review!" in page
    assert "<strong>2 out of 5</strong>" in page and "Too long a wait." in page
    assert 'name="rating"' not in page
    r = await client.post(post_url, data={"rating": "5"})
    assert "review=already_reviewed" in r.headers["location"]
    r = await client.post(post_url.replace(token[-5:], "xxxxx"), data={"rating": "5"})
    is_html(r, 404)
