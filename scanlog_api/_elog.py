"""The e-logbook client: one POST of an HTML entry."""

from __future__ import annotations

from typing import Any

import requests
from pydantic import SecretStr

from ._errors import NotConfigured, UpstreamFailed

ELOG_TIMEOUT_S = 10


class ElogClient:
    """Posts ``{title, html, entry_id, author}`` to the configured e-logbook endpoint."""

    def __init__(self, url: str, token: SecretStr | None, *, forward_user_token: bool = False) -> None:
        self.url = url
        self._token = token
        #: The e-logbook checks the user's own credential (and so who may append where).
        self.forward_user_token = forward_user_token

    def post(self, *, title: str, html: str, entry_id: str | None, author: str,
             user_token: str | None = None) -> dict[str, Any]:
        if not self.url:
            raise NotConfigured("no e-logbook is configured (SCANLOG_ELOG_URL)")
        token = user_token if self.forward_user_token else (self._token.get_secret_value() if self._token else None)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            answer = requests.post(self.url, json={"title": title, "html": html, "entry_id": entry_id,
                                                   "author": author}, headers=headers, timeout=ELOG_TIMEOUT_S)
            answer.raise_for_status()
        except requests.RequestException as err:
            # The error names the status and the reason, never the URL's query or a token.
            raise UpstreamFailed(f"the e-logbook did not take the entry: {type(err).__name__}"
                                 f"{f' (HTTP {err.response.status_code})' if err.response is not None else ''}") from err
        try:
            body = answer.json() if answer.content else {}
        except ValueError as err:
            raise UpstreamFailed("the e-logbook answered something that is not JSON") from err
        return body if isinstance(body, dict) else {}


def entry_id_of(answer: dict[str, Any]) -> str | None:
    """The id the e-logbook gave a new entry (``id`` or ``entry_id``), if any."""
    value = answer.get("id", answer.get("entry_id"))
    return str(value) if value not in (None, "") else None
