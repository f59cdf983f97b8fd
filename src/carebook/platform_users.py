"""Platform admins: Piccolo users with admin rights, and their API tokens."""

from __future__ import annotations

from piccolo.apps.user.tables import BaseUser

from carebook.tenancy import platform_tx
from carebook.tokens import new_token, token_digest


async def create_platform_admin(
    username: str, email: str, password: str, *, with_token: bool = False
) -> str | None:
    """Create (or update the password of) a platform admin; optionally issue an API token."""
    user = await BaseUser.objects().get(BaseUser.username == username)
    if user is None:
        user = await BaseUser.create_user(
            username=username, password=password, email=email, active=True, admin=True,
            superuser=True,
        )  # fmt: skip
    else:
        await BaseUser.update_password(user.id, password)
        await BaseUser.update({BaseUser.active: True, BaseUser.admin: True}).where(
            BaseUser.id == user.id
        )
    if not with_token:
        return None
    return await issue_platform_token(int(user.id), "cli")


async def issue_platform_token(user_id: int, name: str) -> str:
    token = new_token("cbp")
    async with platform_tx() as conn:
        await conn.execute(
            'INSERT INTO platform_api_tokens ("user", name, token_hash) VALUES ($1, $2, $3)',
            user_id,
            name,
            token_digest(token),
        )
    return token
