"""What every web service of scizoo shares: who is asking (static tokens or OIDC JWTs).

Below the deployables (the scan table and scidog both use it), above the core.
"""

from ._auth import Authenticator, AuthError, OidcSettings, TokenUser

__all__ = ["AuthError", "Authenticator", "OidcSettings", "TokenUser"]
