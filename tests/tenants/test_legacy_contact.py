"""The old settings form's ``contact_*`` keys move to the keys the product reads."""

from __future__ import annotations

import json

from carebook.tenancy import platform_tx
from tenants import legacy_contact
from tenants.legacy_contact import moved


def test_valid_values_move_invalid_ones_stay_and_real_keys_win() -> None:
    settings = {
        "contact_email": " desk@clinic.test ",
        "contact_phone": "030 1234567",
        "contact_address": "Lindenstr. 1",
        "hold_minutes": 10,
    }
    out, kept = moved(settings, "Europe/Berlin")
    assert out == {
        "email": "desk@clinic.test",
        "phone": "+49301234567",
        "address": "Lindenstr. 1",
        "hold_minutes": 10,
    }
    assert kept == 0
    out, kept = moved(
        {"contact_email": "not an address", "contact_phone": "12", "contact_address": "New",
         "address": "Already set"},
        "Europe/Berlin",
    )  # fmt: skip
    assert out == {
        "contact_email": "not an address",
        "contact_phone": "12",
        "address": "Already set",
    }
    assert kept == 2
    assert moved({"contact_email": "", "email": "a@b.test"}, "Europe/Berlin") == (
        {"email": "a@b.test"}, 0,
    )  # fmt: skip


async def test_the_migration_rewrites_only_clinics_with_legacy_keys(make_clinic) -> None:
    legacy, plain = await make_clinic(), await make_clinic()
    async with platform_tx() as conn:
        await conn.execute(
            "UPDATE public.tenants SET settings = settings || $2::jsonb WHERE slug = $1",
            legacy.slug,
            json.dumps({"contact_email": "desk@clinic.test", "contact_address": "Lindenstr. 1"}),
        )
        before = await conn.fetchval(
            "SELECT settings::text FROM public.tenants WHERE slug = $1", plain.slug
        )
        await legacy_contact.migrate(conn)
        rows = {
            r["slug"]: json.loads(r["settings"])
            for r in await conn.fetch(
                "SELECT slug, settings::text AS settings FROM public.tenants WHERE slug = ANY($1)",
                [legacy.slug, plain.slug],
            )
        }
    assert rows[legacy.slug]["email"] == "desk@clinic.test"
    assert rows[legacy.slug]["address"] == "Lindenstr. 1"
    assert not {"contact_email", "contact_address"} & set(rows[legacy.slug])
    assert json.loads(before) == rows[plain.slug]
