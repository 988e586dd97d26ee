"""Settings of the scan table and its API (env prefix SCANLOG_)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from scizoo.web import OidcSettings, TokenUser


class ScanlogSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCANLOG_", env_nested_delimiter="__")

    mongo_uri: SecretStr = SecretStr("mongodb://localhost:27017")
    database: str = "scicat"
    #: Write concern of ratings, comments and attachments (as scicow's: see the README).
    write_concern_w: int | str = "majority"
    write_concern_j: bool = True
    #: Publishing: the facility's DOI prefix, where landing pages are (public base URL of this
    #: service), DataCite's REST API and account, and the publisher named by default.
    doi_prefix: str = "10.5072"
    public_url: str = "http://127.0.0.1:8000"
    datacite_url: str = "https://api.test.datacite.org/"
    datacite_username: str = ""
    datacite_password: SecretStr | None = None
    datacite_timeout_s: float = 10.0
    publisher: str = ""
    #: Who runs this service, named in OAI-PMH's Identify (harvesters write there); empty:
    #: webmaster@ the public URL's host.
    admin_email: str = ""
    #: The facility's transfer link ({path}: a file's path or a dataset's folder, {pid}: the
    #: dataset's pid), e.g. a Globus collection path: on the landing page, and in the answer to an
    #: archive over ``max_archive_bytes``. Empty: none.
    download_url_pattern: str = ""
    # --- Downloads (issue 21: scanlog_api/_downloads.py) ---
    #: The folders whose files may be served (absolute paths): a datablock's file is served only
    #: if it lies inside one, links resolved. Empty (the default): no file is served.
    data_roots: list[str] = []
    #: Above this many bytes no archive is made; the answer gives the size and the transfer
    #: links (SciCat's frontend: 5 GB, its maxDirectDownloadSize).
    max_archive_bytes: int = 5_000_000_000
    #: The dataset's page in the facility's SciCat frontend ({pid}, URL-encoded), linked from
    #: the detail view; empty: no link. E.g. https://scicat.facility.org/datasets/{pid}
    scicat_url_pattern: str = ""
    #: Releases (issue 21, scanlog_api/_release.py): how often the release job looks for ended
    #: embargoes (and the policy's due datasets), in one replica at a time; 0: never here (run
    #: `scanlog release` from a CronJob instead).
    release_every_s: float = Field(60.0, ge=0)
    #: The facility's policy: a proposal's raw datasets become public this many years after the
    #: proposal ended (as SciCat's POLICY_PUBLICATION_SHIFT). None (the default): no such policy.
    release_policy_years: int | None = Field(None, ge=1, le=100)
    #: Live streams open to anonymous readers (published scans) at most at once.
    max_anonymous_streams: int = 50
    #: Live streams one signed-in user may hold open at once (each holds a queue on the feed).
    max_streams_per_user: int = 20
    #: A CSV export holds at most this many scans (bounded work per request).
    max_export_rows: int = 100_000
    #: Keep counts per access key and hour in memory, following the store's change stream,
    #: so that a large proposal's total and first pages do not make the store read every
    #: scan it holds (docs/performance.md); selections under ``tally_from`` scans are
    #: counted by the store. Off: every count and page is the store's.
    tally: bool = True
    tally_from: int = 1000
    #: How long a start waits for the store to answer before saying it cannot reach it.
    connect_timeout_s: float = 10.0
    #: Static bearer tokens (demo and small sites): token -> user and groups.
    tokens: dict[str, TokenUser] = {}
    #: OIDC provider whose JWTs are accepted (production).
    oidc: OidcSettings | None = None
    #: Beamline -> staff group whose members may comment on that beamline's scans (besides
    #: the dataset's ownerGroup and admins). Empty (the default): only SciCat's writers comment.
    staff_comment_groups: dict[str, str] = {}
    #: The reduction rules (issue 22): beamline -> staff group whose members change the rules of
    #: that beamline (rules whose beamline is exactly it), besides administrators, who change
    #: all. Empty (the default): administrators only. Every signed-in user reads the rules.
    rule_staff_groups: dict[str, str] = {}
    #: E-logbook endpoint that accepts {title, html, entry_id} (POST); empty: export disabled.
    elog_url: str = ""
    elog_token: SecretStr | None = None
    #: Send the user's own bearer token to the e-logbook (which then decides who may append
    #: where) instead of ``elog_token``; otherwise a user may append only to entries they made
    #: through scanlog.
    elog_forward_user_token: bool = False
    # --- Results a person can read (issue 22: the detail view's "open in notebook") ---
    #: The facility's JupyterHub, linked from a scan's and a derived dataset's detail view:
    #: ``{pid}`` (the dataset's pid) and ``{path}`` (its folder, without the leading "/") are
    #: put in URL-encoded, e.g. https://jupyter.facility.org/hub/user-redirect/lab/tree/{path}.
    #: Empty (the default): no link. Only http(s) addresses are accepted.
    notebook_url_pattern: str = ""

    @field_validator("notebook_url_pattern")
    @classmethod
    def _http_pattern(cls, value: str) -> str:
        return check_link_pattern(value, "notebook_url_pattern")


def check_link_pattern(value: str, name: str) -> str:
    """A link pattern of the settings as given, if it is an http(s) address whose only
    placeholders are {pid} and {path}; else a ValueError saying what is wrong (the page shows
    the link as it is, so a javascript: or data: address must never get there)."""
    import re
    from urllib.parse import urlsplit

    if not value:
        return value
    parts = urlsplit(value.replace("{pid}", "pid").replace("{path}", "path"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be an http:// or https:// address with a host, not {value!r}")
    if unknown := re.findall(r"\{[^{}]*\}", value.replace("{pid}", "").replace("{path}", "")):
        raise ValueError(f"{name} may hold only the placeholders {{pid}} and {{path}}, not {', '.join(unknown)}")
    return value
