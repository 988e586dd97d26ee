"""Who is asking, as the access rules see it: plain data, no token handling (scizoo.web's)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class TokenUser(BaseModel):
    """A signed-in user: their name, groups, whether they administer, and until when."""

    user: str
    groups: list[str] = []
    admin: bool = False
    #: When the credential stops being valid (a JWT's exp); None for static tokens.
    expires_at: datetime | None = None
