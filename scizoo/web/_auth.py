"""Who is asking: static bearer tokens (demo, small sites) or an OIDC provider's JWTs.

What a user may do with what they can read is each service's own rule (the scan
table's is in ``scanlog_api._access``, scidog's in ``scidog._access``).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from scizoo.core import TokenUser

logger = logging.getLogger(__name__)


class OidcSettings(BaseModel):
    """Validation of an OIDC provider's access tokens (e.g. Keycloak), as SciCat does."""

    issuer: str
    audience: str
    jwks_url: str
    groups_claim: str = "groups"
    user_claim: str = "preferred_username"
    admin_groups: list[str] = []
    algorithms: list[str] = ["RS256", "ES256"]
    #: A token signed with a key id we do not know (the provider rotated its keys, or a
    #: made-up one) fetches the provider's keys again at most this often; until then such
    #: tokens get 401. A burst of made-up key ids costs one fetch, not one each.
    jwks_refetch_s: float = Field(5.0, gt=0)
    #: The keys are fetched again (in the background, the old ones serving meanwhile) when
    #: they are older than this, so a key the provider withdrew stops being accepted.
    jwks_lifespan_s: float = Field(300.0, gt=0)
    #: How long one fetch of the keys may take.
    jwks_timeout_s: float = Field(5.0, gt=0)


class AuthError(Exception):
    """A token was given but is not valid; the message is safe to show."""


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


#: Requests that may wait for the first fetch of the provider's keys at once (each holds a
#: worker thread, at most the fetch's timeout); more are refused at once.
MAX_WAITING_FOR_FIRST_KEYS = 16


class ProviderKeys:
    """The provider's signing keys by key id, fetched at most once per ``refetch_s``.

    PyJWT's ``PyJWKClient`` fetches (``fetch_data``) and parses (``PyJWKSet``) here, but its
    own cache is not used: it holds one lock across the HTTP request, so every token (a known
    key's too) waits while a slow provider answers; it refetches for each unknown key id
    after a failed fetch; and before 2.15 it refetched for every unknown key id. Here a
    lookup of a known key never waits, one fetch runs at a time, and a fetch (failed or not)
    starts the interval in which unknown key ids are refused without a fetch. While the first
    fetch (no keys known yet) is under way, a lookup that may wait waits for it (at most its
    timeout, :data:`MAX_WAITING_FOR_FIRST_KEYS` at once): at a start, every token arriving during
    the first fetch was refused before.
    """

    def __init__(self, settings: OidcSettings, clock: Callable[[], float] = time.monotonic) -> None:
        import jwt

        self._client = jwt.PyJWKClient(settings.jwks_url, cache_jwk_set=False, timeout=settings.jwks_timeout_s)
        self._refetch_s = settings.jwks_refetch_s
        self._lifespan_s = settings.jwks_lifespan_s
        self._clock = clock
        self._lock = threading.Lock()
        #: Told when a fetch ends: a caller that may wait, with no key yet, waits for the fetch
        #: under way rather than being refused while it runs (the first fetch after a start).
        self._fetch_ended = threading.Condition(self._lock)
        self._wait_s = settings.jwks_timeout_s + 1.0
        self._waiting = 0
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None  # of the keys held
        self._tried_at: float | None = None  # of the last fetch started, failed or not
        self._fetching = False

    def known(self, kid: str) -> bool:
        with self._lock:
            return kid in self._keys

    def key(self, kid: str, *, may_block: bool) -> Any:
        """The key of ``kid``; fetches the keys when that is due (and ``may_block``: on the
        caller's thread, else in a thread of its own). Raises :class:`AuthError`."""
        with self._lock:
            key = self._keys.get(kid)
            now = self._clock()
            stale = self._fetched_at is not None and now - self._fetched_at > self._lifespan_s
            due = not self._fetching and (self._tried_at is None or now - self._tried_at >= self._refetch_s)
            if due and (key is None or stale):
                self._fetching, self._tried_at = True, now
            else:
                due = False
            if (key is None and may_block and not due and self._fetching and self._fetched_at is None
                    and self._waiting < MAX_WAITING_FOR_FIRST_KEYS):
                # No keys yet (a start) and the first fetch under way: it is this token's only
                # chance too. Only then, and only so many: once keys are known, a token of an
                # unknown key id (which anyone can send) is refused at once, as before.
                self._waiting += 1
                try:
                    self._fetch_ended.wait_for(lambda: not self._fetching, timeout=self._wait_s)
                finally:
                    self._waiting -= 1
                key = self._keys.get(kid)
        if due and (key is None and may_block):
            self._fetch()
            with self._lock:
                key = self._keys.get(kid)
        elif due:  # the old keys serve meanwhile; or an event loop must not wait for the provider
            threading.Thread(target=self._fetch, name="jwks-fetch", daemon=True).start()
        if key is None:
            raise AuthError("the token's signing key is not one of the identity provider's "
                            "(if the provider changed its keys, try again in a few seconds)")
        return key

    def _fetch(self) -> None:
        import jwt

        try:
            keys = jwt.PyJWKSet.from_dict(self._client.fetch_data()).keys
            signing = {k.key_id: k for k in keys if k.key_id and k.public_key_use in ("sig", None)}
            if not signing:
                raise jwt.PyJWKClientError("the provider's key set holds no signing key")
            with self._lock:
                # Replaced, not merged: a key the provider withdrew is no longer accepted.
                self._keys, self._fetched_at, self._fetching = signing, self._clock(), False
            logger.info("fetched the identity provider's %d signing key(s)", len(signing))
        except (jwt.PyJWTError, ValueError) as err:  # ValueError: an answer that is not JSON
            logger.warning("cannot fetch the identity provider's keys from %s: %s", self._client.uri, err)
        finally:
            with self._lock:
                self._fetching = False
                self._fetch_ended.notify_all()


class Authenticator:
    def __init__(self, tokens: dict[str, TokenUser], oidc: OidcSettings | None = None) -> None:
        self._tokens = tokens
        self._oidc = oidc
        self._keys = ProviderKeys(oidc) if oidc is not None else None

    def user_for(self, authorization: str | None) -> TokenUser | None:
        """The user of an ``Authorization`` header; None when there is none (anonymous).

        May wait for the provider's keys (at most ``jwks_timeout_s``, one fetch at a time)
        when called from a thread; called on an event loop it never waits (an unknown key
        is fetched in the background and the token refused meanwhile): async code awaits
        :meth:`authenticate` instead.
        """
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise AuthError("expected 'Authorization: Bearer <token>'")
        for known, user in self._tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                return user
        if self._oidc is not None and token.count(".") == 2:
            return self._from_jwt(token, may_block=not _on_event_loop())
        raise AuthError("unknown token")

    async def authenticate(self, authorization: str | None) -> TokenUser | None:
        """:meth:`user_for` for async code: a fetch of the provider's keys runs in a worker
        thread, so the event loop (every other request, every live stream) goes on."""
        kid = self._unknown_kid(authorization)
        if kid is None:
            return self.user_for(authorization)
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(self.user_for, authorization)

    def _unknown_kid(self, authorization: str | None) -> str | None:
        """The key id of a JWT in the header whose key is not held yet (else None)."""
        if self._keys is None or not authorization:
            return None
        token = authorization.partition(" ")[2]
        if token.count(".") != 2 or token in self._tokens:
            return None
        import jwt

        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return None
        return kid if isinstance(kid, str) and not self._keys.known(kid) else None

    def _from_jwt(self, token: str, *, may_block: bool) -> TokenUser:
        import jwt

        oidc, keys = self._oidc, self._keys
        assert oidc is not None and keys is not None
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            if not isinstance(kid, str) or not kid:
                raise AuthError("invalid token: it names no signing key (kid)")
            key = keys.key(kid, may_block=may_block)
            claims = jwt.decode(token, key.key, algorithms=oidc.algorithms, audience=oidc.audience,
                                issuer=oidc.issuer, options={"require": ["exp", "iss", "aud"]})
        except AuthError as err:
            logger.info("rejected a JWT: %s", err)
            raise
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
