"""A local HTTP server that behaves like DataCite's REST API, for the demo and the tests."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import ThreadingHTTPServer
from typing import Any

from ._useroffice import JsonHandler


class DataCiteStandIn:
    """POST /dois makes a draft; PUT /dois/<doi> updates it (``event: publish`` makes it findable);
    GET /dois/<doi> answers it with its state; DELETE /dois/<doi> deletes a draft, and only a draft.

    Checks basic auth and the kernel-4 essentials as DataCite does, answering JSON:API errors;
    ``fail`` makes the next call of a kind (draft, publish, get, delete) answer 500, ``hang`` makes
    it wait past the timeout (and then carry on: the client gave up, DataCite did not).
    """

    def __init__(self, username: str = "SCIZOO.TEST", password: str = "dc-secret") -> None:  # noqa: S107 - a stand-in's
        credentials = base64.b64encode(f"{username}:{password}".encode()).decode()
        self.dois: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.fail: set[str] = set()
        self.hang: set[str] = set()
        fake = self

        class Handler(JsonHandler):
            def _body(self) -> dict[str, Any]:
                body: dict[str, Any] = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                return body

            def _authorised(self) -> bool:
                if self.headers.get("Authorization") != f"Basic {credentials}":
                    self.reply(401, {"errors": [{"status": "401", "title": "Bad credentials."}]})
                    return False
                return True

            def _trouble(self, kind: str) -> bool:
                if kind in fake.hang:
                    fake.hang.discard(kind)
                    time.sleep(3)
                if kind in fake.fail:
                    fake.fail.discard(kind)
                    self.reply(500, {"errors": [{"status": "500", "title": "Internal server error"}]})
                    return True
                return False

            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                body = self._body()
                fake.calls.append(("POST", self.path, body))
                if not self._authorised() or self._trouble("draft"):
                    return
                attributes = body["data"]["attributes"]
                missing = [k for k in ("titles", "creators", "publisher", "publicationYear", "types")
                           if not attributes.get(k)]
                if missing:
                    self.reply(422, {"errors": [{"source": k, "title": "can't be blank"} for k in missing]})
                    return
                doi = attributes["doi"]
                if doi in fake.dois:
                    self.reply(422, {"errors": [{"source": "doi", "title": "This DOI has already been taken"}]})
                    return
                fake.dois[doi] = {**attributes, "state": "draft"}
                self.reply(201, {"data": {"id": doi, "type": "dois", "attributes": fake.dois[doi]}})

            def do_PUT(self) -> None:  # noqa: N802 - the standard library's name
                body = self._body()
                fake.calls.append(("PUT", self.path, body))
                if not self._authorised() or self._trouble("publish"):
                    return
                doi = self.path.removeprefix("/dois/")
                if doi not in fake.dois:
                    self.reply(404, {"errors": [{"status": "404", "title": "The resource could not be found."}]})
                    return
                attributes = dict(body["data"]["attributes"])
                event = attributes.pop("event", None)
                fake.dois[doi].update(attributes)
                if event == "publish":
                    fake.dois[doi]["state"] = "findable"
                self.reply(200, {"data": {"id": doi, "type": "dois", "attributes": fake.dois[doi]}})

            def do_GET(self) -> None:  # noqa: N802 - the standard library's name
                fake.calls.append(("GET", self.path, {}))
                if not self._authorised() or self._trouble("get"):
                    return
                doi = self.path.removeprefix("/dois/")
                if doi not in fake.dois:
                    self.reply(404, {"errors": [{"status": "404", "title": "The resource could not be found."}]})
                    return
                self.reply(200, {"data": {"id": doi, "type": "dois", "attributes": fake.dois[doi]}})

            def do_DELETE(self) -> None:  # noqa: N802 - the standard library's name
                fake.calls.append(("DELETE", self.path, {}))
                if not self._authorised() or self._trouble("delete"):
                    return
                doi = self.path.removeprefix("/dois/")
                if doi not in fake.dois:
                    self.reply(404, {"errors": [{"status": "404", "title": "The resource could not be found."}]})
                elif fake.dois[doi]["state"] != "draft":
                    self.reply(405, {"errors": [{"status": "405", "title": "Method not allowed"}]})
                else:
                    del fake.dois[doi]
                    self.send_response(204)
                    self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def start(self) -> DataCiteStandIn:
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> DataCiteStandIn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
