"""Absolute links handed to patients (manage links, calendar files).

A link must not depend on which process served the request: with several processes (or
several ``carebook run`` on other ports) behind one address, each process's own
``host:port`` is the wrong answer. The base URL is ``CAREBOOK_BASE_URL`` when set (always set
it in production: e-mails are sent without a request). Without it, the link is built from
the request's own scheme and ``Host``, which is the address the patient reached us by; when
``CAREBOOK_ALLOWED_HOSTS`` is set, only a host it lists is used, any other falls back to the
default base URL. Behind a proxy, uvicorn's ``--proxy-headers`` supplies the scheme.
"""

from __future__ import annotations

import re
from typing import Any

from litestar.connection import ASGIConnection

from carebook.settings import get_settings

_HOST = re.compile(
    r"(?P<name>[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?", re.ASCII
)


def public_base_url(request: ASGIConnection[Any, Any, Any, Any]) -> str:
    """``scheme://host[:port]`` (no trailing slash) for links in responses to ``request``."""
    settings = get_settings()
    if settings.base_url_configured:
        return settings.base_url
    host = request.headers.get("host", "")
    match = _HOST.fullmatch(host)
    if match is None:
        return settings.base_url
    if settings.allowed_hosts and match["name"].lower() not in settings.allowed_hosts:
        return settings.base_url
    scheme = "https" if request.url.scheme in ("https", "wss") else "http"
    return f"{scheme}://{host}"
