"""A clinic's branding on its public pages: ``brand.css`` (accent colour, logo) and the logo.

Served as a stylesheet rather than inline styles so the pages' Content-Security-Policy
stays ``style-src 'self'``. Unknown or suspended clinics get an empty stylesheet.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get
from litestar.params import FromPath

from carebook.errors import CarebookError, NotFound
from tenants import clinic_settings
from tenants.guards import provide_public_tenant

CACHE = {"Cache-Control": "public, max-age=60", "X-Content-Type-Options": "nosniff"}


def darker(hex_colour: str, factor: float = 0.72) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#{:02x}{:02x}{:02x}".format(*(int(c * factor) for c in (r, g, b)))


class BrandingAssets(Controller):
    path = "/c/{clinic:str}"
    include_in_schema = False

    @get("/brand.css", name="web:brand-css")
    async def brand_css(self, clinic: FromPath[str]) -> Response[str]:
        rules = []
        try:
            tenant = await provide_public_tenant(clinic)
            settings = await clinic_settings.raw_settings(clinic)
            colour = settings.get("accent_colour") or ""
            if colour:
                rules.append(f":root {{ --brand: {colour}; --brand-dark: {darker(colour)}; }}")
            if await clinic_settings.logo(tenant) is not None:
                rules.append(
                    '.site-header .clinic-name::before { content: ""; display: inline-block; '
                    "width: 2rem; height: 2rem; margin-right: 0.5rem; vertical-align: middle; "
                    f"background: url(/c/{tenant.slug}/logo) center / contain no-repeat; }}"
                )
        except CarebookError:
            pass
        return Response("\n".join(rules) + "\n", media_type="text/css", headers=CACHE)

    @get("/logo", name="web:logo")
    async def logo(self, clinic: FromPath[str]) -> Response[Any]:
        tenant = await provide_public_tenant(clinic)
        found = await clinic_settings.logo(tenant)
        if found is None:
            raise NotFound("This clinic has no logo.", code="logo_not_found")
        data, content_type = found
        return Response(data, media_type=content_type, headers=CACHE)
