"""The e-logbook client: one POST of an HTML entry."""

from __future__ import annotations

from typing import Any

import requests
from pydantic import SecretStr

from ._errors import NotConfigured, UpstreamFailed

ELOG_TIMEOUT_S = 10


class ElogClient:
    """Posts ``{title, html, entry_id, author}`` to the configured e-logbook endpoint."""

    def __init__(self, url: str, token: SecretStr | None) -> None:
        self.url = url
        self._token = token

    def post(self, *, title: str, html: str, entry_id: str | None, author: str) -> dict[str, Any]:
        if not self.url:
            raise NotConfigured("no e-logbook is configured (SCANLOG_ELOG_URL)")
        headers = {"Authorization": f"Bearer {self._token.get_secret_value()}"} if self._token else {}
        try:
            answer = requests.post(self.url, json={"title": title, "html": html, "entry_id": entry_id,
                                                   "author": author}, headers=headers, timeout=ELOG_TIMEOUT_S)
            answer.raise_for_status()
        except requests.RequestException as err:
            raise UpstreamFailed(f"the e-logbook did not take the entry: {err}") from err
        return answer.json() if answer.content else {}
