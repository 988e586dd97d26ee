"""What every web service of scizoo shares: who is asking (static tokens or OIDC JWTs),
errors with their HTTP status, bounds checked before a body is read, the operators' routes.

Below the deployables (the scan table and scidog both use it), above the core.
"""

from scizoo.core import TokenUser

from ._auth import Authenticator, AuthError, OidcSettings
from ._docs import add_api_docs
from ._errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotConfigured,
    NotFound,
    TooLarge,
    TooMany,
    UpstreamFailed,
    WebError,
    document_refusals,
    refuse_unparsed_by_field,
)
from ._headers import (
    MaskInLogs,
    MaskQueryTokens,
    SecurityHeaders,
    add_security_headers,
    content_security_policy,
    mask_in_access_log,
)
from ._limits import MAX_JSON_BYTES, RequestLimits
from ._ops import add_ops_routes
from ._startup import StartupBuild
from ._state import app_state

__all__ = [
    "MAX_JSON_BYTES",
    "AuthError",
    "Authenticator",
    "Conflict",
    "Forbidden",
    "Invalid",
    "MaskInLogs",
    "MaskQueryTokens",
    "NotConfigured",
    "NotFound",
    "OidcSettings",
    "RequestLimits",
    "SecurityHeaders",
    "StartupBuild",
    "TokenUser",
    "TooLarge",
    "TooMany",
    "UpstreamFailed",
    "WebError",
    "add_api_docs",
    "add_ops_routes",
    "add_security_headers",
    "app_state",
    "content_security_policy",
    "document_refusals",
    "mask_in_access_log",
    "refuse_unparsed_by_field",
]
