"""OpenID Connect: verify an identity provider's JWT and say which username it names.

The token only proves who someone is; what they may do comes from Vigil's own record of
that user (roles, active), so a provider cannot grant a role. Signing keys come from the
issuer's JWKS, fetched over HTTP and cached; only asymmetric algorithms from settings are
accepted (never ``none``, never an HMAC secret), the key the token's ``kid`` names must be of
the kind its ``alg`` verifies with, and ``exp``, ``iss`` and ``aud`` must be present and right
(``nbf`` and ``iat`` are checked when present). A token wrong in any way is refused as
invalid (401, and counted as a failed sign-in), never answered 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from infrastructure.logging import get_logger
from infrastructure.settings import Settings

log = get_logger(__name__)

# The kind of public key each family of the allowed algorithms verifies with (by the
# algorithm's first two letters: RS256, PS384, ES256, EdDSA).
_KEY_KINDS: dict[str, type | tuple[type, ...]] = {
    "RS": rsa.RSAPublicKey,
    "PS": rsa.RSAPublicKey,
    "ES": ec.EllipticCurvePublicKey,
    "Ed": (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey),
}


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


def _key_fits(key: object, algorithm: str) -> bool:
    kind = _KEY_KINDS.get(algorithm[:2])
    return kind is not None and isinstance(key, kind)


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
        claims = self.claims(token)
        return None if claims is None else self.username_in(claims)

    def username_in(self, claims: dict[str, Any]) -> str | None:
        """The username verified ``claims`` name (the configured claim), or None."""
        username = claims.get(self.config.username_claim)
        if not isinstance(username, str) or not username:
            log.info("oidc_rejected", reason="no username claim")
            return None
        return username

    def claims(self, token: str, *, audience: str | None = None) -> dict[str, Any] | None:
        """The token's claims once its signature, ``iss``, ``aud`` (``audience``, by default
        the configured one), ``exp`` (and ``nbf``, ``iat`` when present) are verified; else
        None. Why it failed is logged (never the token or its claims)."""
        try:
            header = jwt.get_unverified_header(token)
            # Refuse a foreign algorithm before any key is fetched for it.
            if header.get("alg") not in self.config.algorithms:
                log.info("oidc_rejected", reason="algorithm not allowed")
                return None
            key = self._keys.get_signing_key_from_jwt(token)
            if not _key_fits(key.key, header["alg"]):
                # The header names the algorithm, the kid names the key: an RSA algorithm
                # with an EC key (or the reverse) is a bad token, not a fault of ours.
                log.info("oidc_rejected", reason="the algorithm does not fit the kid's key")
                return None
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[header["alg"]],
                audience=self.config.audience if audience is None else audience,
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
        except jwt.PyJWTError as exc:
            # InvalidTokenError, and InvalidKeyError (e.g. an EC key on another curve than
            # the algorithm's): whatever the token got wrong, it is refused, never a 500.
            log.info("oidc_rejected", reason=type(exc).__name__)
            return None
        return claims
