"""SMS: a provider interface (the ``Channel`` protocol) and Twilio's Messages API.

Contract (https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource):
``POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json``, HTTP basic auth
(AccountSid:AuthToken), form-encoded ``To``, ``From``, ``Body``; 201 with the message's
``sid``. Errors are JSON ``{code, message, more_info, status}``:

- 429 (``20429``, too many requests) and 5xx, timeouts, connection errors: temporary, retried.
- 401/403 (``20003`` authentication): our configuration, not the message: temporary, so the
  message waits for the operator instead of being lost.
- other 4xx, e.g. 400 ``21211`` (invalid ``To``), ``21610`` (recipient opted out), ``21614``
  (not a mobile number): permanent; the recipient's own problems are ``bounced``.
"""

from __future__ import annotations

import httpx

from notifications.channels import Message, PermanentFailure, SendContext, TemporaryFailure
from notifications.config import TwilioConfig

# Twilio error codes that mean "this recipient cannot get SMS" (logged as bounced).
RECIPIENT_CODES = frozenset({21211, 21610, 21612, 21614, 21408})


class TwilioChannel:
    transport = "twilio"

    def __init__(self, config: TwilioConfig) -> None:
        self.config = config

    async def send(self, message: Message, ctx: SendContext) -> str:
        cfg = self.config
        url = f"{cfg.base_url}/2010-04-01/Accounts/{cfg.account_sid}/Messages.json"
        try:
            async with httpx.AsyncClient(timeout=cfg.timeout_seconds) as http:
                r = await http.post(
                    url,
                    data={"To": message.to, "From": cfg.sender, "Body": message.text},
                    auth=(cfg.account_sid, cfg.auth_token),
                )
        except httpx.HTTPError as exc:
            raise TemporaryFailure(f"Twilio unreachable: {type(exc).__name__}") from None
        if r.status_code in (200, 201):
            sid = (r.json() or {}).get("sid")
            if not sid:
                raise TemporaryFailure("Twilio answered without a message sid")
            return str(sid)
        code, text = _error(r)
        detail = f"Twilio {r.status_code} ({code}): {text}"
        if r.status_code == 429 or r.status_code >= 500 or r.status_code in (401, 403):
            raise TemporaryFailure(detail)
        raise PermanentFailure(detail, bounced=code in RECIPIENT_CODES)


def _error(r: httpx.Response) -> tuple[int | None, str]:
    try:
        body = r.json()
    except ValueError:
        return None, r.text[:200]
    code = body.get("code") if isinstance(body, dict) else None
    message = body.get("message", "") if isinstance(body, dict) else ""
    return (int(code) if isinstance(code, int) else None), str(message)[:200]
