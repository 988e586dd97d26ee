"""Who is asking: static bearer tokens (demo, small sites) or an OIDC provider's JWTs.

What a user may do with what they can read is each service's own rule (the scan
table's is in ``scanlog_api._access``, scidog's in ``scidog._access``).
"""

from __future__ import annotations

import hmac
import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

logger = logging.getLogger(__name__)


class TokenUser(BaseModel):
    user: str
    groups: list[str] = []
    admin: bool = False
    #: When the credential stops being valid (a JWT's exp); None for static tokens.
    expires_at: datetime | None = None


class OidcSettings(BaseModel):
    """Validation of an OIDC provider's access tokens (e.g. Keycloak), as SciCat does."""

    issuer: str
    audience: str
    jwks_url: str
    groups_claim: str = "groups"
    user_claim: str = "preferred_username"
    admin_groups: list[str] = []
    algorithms: list[str] = ["RS256", "ES256"]


class AuthError(Exception):
    """A token was given but is not valid; the message is safe to show."""


class Authenticator:
    def __init__(self, tokens: dict[str, TokenUser], oidc: OidcSettings | None = None) -> None:
        self._tokens = tokens
        self._oidc = oidc
        self._jwks: Any = None

    def user_for(self, authorization: str | None) -> TokenUser | None:
        """The user of an ``Authorization`` header; None when there is none (anonymous)."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise AuthError("expected 'Authorization: Bearer <token>'")
        for known, user in self._tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                return user
        if self._oidc is not None and token.count(".") == 2:
            return self._from_jwt(token)
        raise AuthError("unknown token")

    def _from_jwt(self, token: str) -> TokenUser:
        import jwt

        oidc = self._oidc
        assert oidc is not None
        if self._jwks is None:
            self._jwks = jwt.PyJWKClient(oidc.jwks_url, cache_keys=True)
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(token, key.key, algorithms=oidc.algorithms, audience=oidc.audience,
                                issuer=oidc.issuer, options={"require": ["exp", "iss", "aud"]})
        except jwt.PyJWTError as err:
            # The reason is logged and returned; the token itself never is.
            logger.info("rejected a JWT: %s", err)
            raise AuthError(f"invalid token: {err}") from err
        groups = claims.get(oidc.groups_claim) or []
        if isinstance(groups, str):
            groups = [groups]
        groups = [str(g).lstrip("/") for g in groups]  # Keycloak's group paths start with '/'
        user = str(claims.get(oidc.user_claim) or claims.get("sub") or "")
        return TokenUser(user=user, groups=groups, admin=bool(set(groups) & set(oidc.admin_groups)),
                         expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC))
