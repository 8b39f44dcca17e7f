"""The web UI's single sign-on settings: what turns it on, where the client secret comes from,
and what is refused at start rather than at a person's sign-in."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from infrastructure.oidc_sign_in import SignInConfig, pkce_challenge, pkce_verifier
from infrastructure.settings import Settings

OIDC = {
    "oidc_issuer": "https://sso.example.org",
    "oidc_audience": "vigil-api",
    "oidc_jwks_url": "https://sso.example.org/certs",
}


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, environment="test", **values)  # type: ignore[arg-type]


def test_single_sign_on_is_on_only_with_an_issuer_and_a_client_id() -> None:
    assert SignInConfig.from_settings(settings()) is None
    assert SignInConfig.from_settings(settings(**OIDC)) is None  # bearer JWTs only
    config = SignInConfig.from_settings(settings(**OIDC, oidc_client_id="vigil-web"))
    assert config is not None
    assert config.client_id == "vigil-web"
    assert config.client_secret is None  # a public client: PKCE alone


def test_a_client_id_without_an_issuer_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="VIGIL_OIDC_CLIENT_ID needs VIGIL_OIDC_ISSUER"):
        settings(oidc_client_id="vigil-web")


def test_the_redirect_url_must_be_the_callback() -> None:
    with pytest.raises(ValidationError, match="/ui/login/oidc/callback"):
        settings(**OIDC, oidc_client_id="c", oidc_redirect_url="https://vigil.example.org/")
    fine = "https://vigil.example.org/ui/login/oidc/callback"
    assert settings(**OIDC, oidc_client_id="c", oidc_redirect_url=fine).oidc_redirect_url == fine


def test_scopes_must_ask_for_openid() -> None:
    with pytest.raises(ValidationError, match="must include openid"):
        settings(**OIDC, oidc_client_id="vigil-web", oidc_scopes="profile email")


def test_the_client_secret_comes_from_its_setting_or_its_file_and_is_never_shown(
    tmp_path: Path,
) -> None:
    direct = settings(**OIDC, oidc_client_id="c", oidc_client_secret=SecretStr("s3cret"))
    assert direct.oidc_client_secret_value == "s3cret"
    assert "s3cret" not in repr(direct)
    config = SignInConfig.from_settings(direct)
    assert "s3cret" not in repr(config)

    mounted = tmp_path / "secret"
    mounted.write_text("from-a-file\n")
    filed = settings(**OIDC, oidc_client_id="c", oidc_client_secret_file=mounted)
    assert filed.oidc_client_secret_value == "from-a-file"

    with pytest.raises(ValidationError, match="not both"):
        settings(
            **OIDC,
            oidc_client_id="c",
            oidc_client_secret=SecretStr("x"),
            oidc_client_secret_file=mounted,
        )
    missing = settings(**OIDC, oidc_client_id="c", oidc_client_secret_file=tmp_path / "none")
    with pytest.raises(ValueError, match="cannot read VIGIL_OIDC_CLIENT_SECRET_FILE"):
        _ = missing.oidc_client_secret_value


def test_pkce_verifiers_are_fresh_and_within_rfc_7636s_bounds() -> None:
    verifiers = {pkce_verifier() for _ in range(20)}
    assert len(verifiers) == 20
    for verifier in verifiers:
        assert re.fullmatch(r"[A-Za-z0-9._~-]{43,128}", verifier)
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", pkce_challenge(verifier))
