"""OpenID Connect: verify an identity provider's JWT and say which username it names.

The token only proves who someone is; what they may do comes from Vigil's own record of
that user (roles, active), so a provider cannot grant a role. Signing keys come from the
issuer's JWKS, fetched over HTTP and cached; only asymmetric algorithms from settings are
accepted (never ``none``, never an HMAC secret), and ``exp``, ``iss`` and ``aud`` must be
present and right (``nbf`` and ``iat`` are checked when present).
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt

from infrastructure.logging import get_logger
from infrastructure.settings import Settings

log = get_logger(__name__)


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    audience: str
    jwks_url: str
    username_claim: str = "preferred_username"
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    jwks_cache_seconds: int = 300
    leeway_seconds: int = 30
    fetch_timeout_seconds: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcConfig | None:
        if not settings.oidc_enabled:
            return None
        return cls(
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            jwks_url=settings.oidc_jwks_url,
            username_claim=settings.oidc_username_claim,
            algorithms=tuple(settings.oidc_algorithms.split(",")),
            jwks_cache_seconds=settings.oidc_jwks_cache_seconds,
            leeway_seconds=settings.oidc_leeway_seconds,
        )


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


class OidcVerifier:
    """Verifies JWTs from one issuer; thread-safe (PyJWKClient caches behind a lock)."""

    def __init__(self, config: OidcConfig) -> None:
        self.config = config
        self._keys = jwt.PyJWKClient(
            config.jwks_url,
            cache_keys=True,
            cache_jwk_set=True,
            lifespan=max(1, config.jwks_cache_seconds),
            timeout=config.fetch_timeout_seconds,
        )

    def username(self, token: str) -> str | None:
        """The username the token names, or None if it is not a valid token of this issuer.

        Why it failed is logged (never the token or its claims), not told to the caller.
        """
        try:
            header = jwt.get_unverified_header(token)
            # Refuse a foreign algorithm before any key is fetched for it.
            if header.get("alg") not in self.config.algorithms:
                log.info("oidc_rejected", reason="algorithm not allowed")
                return None
            key = self._keys.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=list(self.config.algorithms),
                audience=self.config.audience,
                issuer=self.config.issuer,
                leeway=self.config.leeway_seconds,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWKClientConnectionError:
            log.warning("oidc_rejected", reason="the JWKS could not be fetched")
            return None
        except jwt.PyJWKClientError:
            log.info("oidc_rejected", reason="no signing key for the token's kid")
            return None
        except jwt.InvalidTokenError as exc:
            log.info("oidc_rejected", reason=type(exc).__name__)
            return None
        username = claims.get(self.config.username_claim)
        if not isinstance(username, str) or not username:
            log.info("oidc_rejected", reason="no username claim")
            return None
        return username
