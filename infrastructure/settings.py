"""All of Vigil's settings: environment variables prefixed ``VIGIL_``, also read from ``.env``.

Only the interfaces (CLI, HTTP app factory) build ``Settings``; everything below
receives it, so nothing else reads ``os.environ``.
"""

from __future__ import annotations

import ipaddress
from datetime import date
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.calendar import parse_weekly_hours
from domain.case.approvals import DEFAULT_RULES as DEFAULT_FOUR_EYES_RULES
from domain.case.approvals import DEFAULT_SANCTION_DAYS, FourEyesPolicy
from domain.case.vocabulary import Category, Urgency
from domain.policy.sla import DEFAULT_TARGETS, SlaTargets, Target
from domain.subject.retention import RetentionPolicy


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VIGIL_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Literal["development", "production", "test"] = "development"
    data_dir: Path = Field(default=Path("data"), description="Where the embedded store lives.")
    database_url: str | None = Field(
        default=None,
        description="sqlite:///path/to/vigil.db or postgresql://user:pass@host:port/db "
        "(?schema=NAME selects a schema). Default: SQLite under data_dir.",
    )

    # Service calendar: what counts as out of hours.
    timezone: str = "Europe/London"
    operating_hours: str = Field(
        default="mon-fri 09:00-17:00",
        description="'mon-fri 09:00-17:00; sat 10:00-14:00', 'always' (24/7) or '' (never open).",
    )
    bank_holidays: str = Field(
        default="GB-ENG",
        description="Country and subdivision whose public holidays close the service "
        "(GB-ENG = England and Wales), or '' for none.",
    )
    closed_dates: list[date] = Field(default_factory=list, description="Extra closed dates.")

    # Service-level targets: how soon escalations, referrals and held decisions are due. These
    # are the defaults of the SLA policy's version 1 (``Settings.sla_targets``), in force from
    # the start of time. Once version 1 is recorded in the log (on first need: the first case
    # opened, or the first POST /api/v1/policies/sla), changing them changes nothing: new
    # versions come from POST /api/v1/policies/sla, never from the settings.
    sla_escalation_immediate_minutes: int = Field(default=30, ge=1)
    sla_escalation_urgent_minutes: int = Field(default=240, ge=1)
    sla_escalation_routine_working_days: int = Field(default=1, ge=1)
    sla_referral_ack_working_days: int = Field(default=1, ge=1)
    sla_referral_chase_working_days: int = Field(default=5, ge=1)
    sla_approval_working_days: int = Field(
        default=1, ge=1, description="Four-eyes: a held decision is due for approval this long."
    )

    # Four-eyes: decisions that take effect only once a second safeguarding lead approves them,
    # so that no one person takes the gravest alone. Moderation action names and/or
    # close_critical; '' holds nothing back.
    four_eyes: str = Field(
        default=DEFAULT_FOUR_EYES_RULES,
        description="Comma-separated decisions that need a second safeguarding lead's approval: "
        "moderation actions (ban_member, suspend_member, ...), close_critical (closing a "
        "case whose risk is or was critical), lower_critical (lowering a critical risk) and "
        "long_sanction (a mute or suspension longer than four_eyes_sanction_days); '' for none.",
    )
    four_eyes_sanction_days: int = Field(
        default=DEFAULT_SANCTION_DAYS,
        ge=1,
        le=3650,
        description="Under long_sanction: the longest mute or suspension one person may impose.",
    )

    max_clock_skew_seconds: int = Field(default=300, ge=0, le=3600)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # A forum's webhook delivery carries a post's text twice (raw and HTML): more room than an
    # API request, and still bounded (a larger delivery is refused, 413, and nothing written).
    intake_max_body_bytes: int = Field(default=512 * 1024, ge=1024, le=16 * 1024 * 1024)
    snapshot_interval: int = Field(default=50, ge=2, description="Snapshot a case every N events.")
    case_cache_size: int = Field(
        default=1000, ge=0, description="Case states kept in memory per process (0 = none)."
    )
    write_retries: int = Field(default=25, ge=1, description="Re-decides after a lost race.")

    # PostgreSQL connection pool: sized to FastAPI's threadpool (40 threads by default).
    db_pool_size: int = Field(default=20, ge=1)
    db_max_overflow: int = Field(default=20, ge=0)
    db_connect_timeout_seconds: int = Field(
        default=5, ge=1, description="PostgreSQL: how long one connection attempt may take."
    )
    store_timeout_seconds: int = Field(
        default=5,
        ge=1,
        le=300,
        description="How long a request or command waits for a store that does not answer (no "
        "connection to PostgreSQL, a locked SQLite file) before giving up: 503 "
        "store-unavailable with Retry-After over HTTP, exit 1 on the command line.",
    )
    # The recorder retries a lock timeout 10 times, so N seconds here can mean ~11 N seconds.
    db_lock_timeout_seconds: int = Field(default=0, ge=0, description="0 = wait for the lock.")

    # `vigil db init` (PostgreSQL): who sets the store up, and the role Vigil then runs as.
    db_owner_url: str | None = Field(
        default=None,
        description="The owner's URL for `vigil db init` (default: VIGIL_DATABASE_URL).",
    )
    db_app_role: str | None = Field(
        default=None,
        description="The role Vigil runs as, which may not update or delete the event log "
        "(default: VIGIL_DATABASE_URL's user, when it is not the owner).",
    )
    db_app_password: SecretStr | None = Field(
        default=None,
        description="The application role's password (default: VIGIL_DATABASE_URL's).",
    )

    # Read side: the projector that keeps the views up to date, and what readers may wait for.
    projector_in_process: bool = Field(
        default=True,
        description="On PostgreSQL, run the projector inside `vigil serve` (false when a "
        "separate `vigil project` worker runs). The embedded store always runs it in-process.",
    )
    projector_batch_size: int = Field(default=500, ge=1, le=100_000)
    projector_poll_seconds: float = Field(
        default=0.2, gt=0, le=60, description="SQLite: how often the projector polls the log."
    )
    projector_fallback_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        le=600,
        description="PostgreSQL: poll this often even when no NOTIFY arrives.",
    )
    projector_listen: bool = Field(
        default=True, description="PostgreSQL: be woken by LISTEN/NOTIFY (false: poll only)."
    )
    rebuild_processes: int = Field(
        default=2,
        ge=1,
        le=16,
        description="PostgreSQL: processes filling the side tables of `vigil rebuild` (each "
        "handles the events of a share of the aggregates); 1: one process.",
    )
    rebuild_worker_timeout_seconds: float = Field(
        default=1800.0,
        gt=0,
        le=86_400,
        description="PostgreSQL: how long a parallel rebuild, its own share done, waits for "
        "its other processes before failing (a hung process).",
    )
    read_wait_seconds: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="How long a read with ?min_position waits for the views (then 503).",
    )
    ready_max_lag_events: int = Field(
        default=1000, ge=0, description="/ready fails while a view is more events behind."
    )
    ready_max_lag_seconds: float = Field(
        default=30.0, ge=0, description="/ready fails while a view is longer behind."
    )

    # Restricted cases: cases in these categories are readable only by safeguarding
    # leads, auditors, the assignee and a break-glass grant holder; users who recorded on the
    # case see their own records. Comma-separated category values; '' restricts nothing.
    restricted_categories: str = Field(
        default="self_harm_risk,harm_to_others",
        description="Comma-separated case categories that are restricted (e.g. "
        "'self_harm_risk,harm_to_others,hate_incident'); '' for none.",
    )
    break_glass_minutes: int = Field(
        default=60,
        ge=1,
        le=24 * 60,
        description="How long break-glass access to a restricted case lasts, from the grant.",
    )

    # Identity and HTTP hardening.
    oidc_issuer: str = Field(
        default="",
        description="OpenID Connect: the issuer (iss) whose JWTs are accepted as bearer tokens "
        "beside Vigil's own; '' turns OIDC off. Needs oidc_audience and oidc_jwks_url too.",
    )
    oidc_audience: str = Field(default="", description="OIDC: the audience (aud) required.")
    oidc_jwks_url: str = Field(default="", description="OIDC: where the issuer's JWKS is.")
    oidc_username_claim: str = Field(
        default="preferred_username",
        description="OIDC: the claim holding the Vigil username (roles come from Vigil).",
    )
    oidc_algorithms: str = Field(
        default="RS256,ES256",
        description="OIDC: comma-separated signature algorithms accepted (never 'none' or HS*).",
    )
    oidc_jwks_cache_seconds: int = Field(
        default=300, ge=0, description="OIDC: how long fetched signing keys are reused."
    )
    oidc_leeway_seconds: int = Field(
        default=30, ge=0, le=300, description="OIDC: clock skew allowed on exp/nbf/iat."
    )
    # OIDC sign-in to the web UI (the authorization code flow with PKCE): on when oidc_issuer
    # (and its audience and JWKS) and oidc_client_id are set.
    oidc_client_id: str = Field(
        default="",
        description="OIDC: the web UI's client id at the identity provider (the ID token's aud); "
        "'' leaves the pages' single sign-on off. Needs oidc_issuer.",
    )
    oidc_client_secret: SecretStr | None = Field(
        default=None,
        description="OIDC: the web UI's client secret (sent as HTTP Basic to the token "
        "endpoint); unset with no oidc_client_secret_file: a public client (PKCE only).",
    )
    oidc_client_secret_file: Path | None = Field(
        default=None, description="OIDC: a file holding the client secret, e.g. a secret mount."
    )
    oidc_authorization_endpoint: str = Field(
        default="",
        description="OIDC: the provider's authorization endpoint; '' discovers it from "
        "<oidc_issuer>/.well-known/openid-configuration.",
    )
    oidc_token_endpoint: str = Field(
        default="", description="OIDC: the provider's token endpoint; '' discovers it."
    )
    oidc_redirect_url: str = Field(
        default="",
        description="OIDC: this service's sign-in callback as registered at the provider "
        "(https://vigil.example.org/ui/login/oidc/callback); '' makes it from the request.",
    )
    oidc_scopes: str = Field(
        default="openid profile",
        description="OIDC: the scopes asked for (openid, and those that give the username claim).",
    )
    oidc_provider_name: str = Field(
        default="",
        max_length=60,
        description="OIDC: the provider's name on the sign-in button ('Sign in with NAME'); "
        "'' says 'single sign-on'.",
    )
    auth_failure_limit: int = Field(
        default=10,
        ge=1,
        description="Failed authentications allowed per client address (and per user named by "
        "a token) within auth_failure_window_seconds before answering 429.",
    )
    auth_failure_window_seconds: float = Field(default=60.0, gt=0, le=86_400)
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses or networks (CIDR) of the reverse proxies whose "
        "X-Forwarded-For and X-Forwarded-Proto `vigil serve` believes; '' (the default) "
        "believes no forwarded header: the client is the peer address.",
    )
    cors_origins: str = Field(
        default="",
        description="Comma-separated browser origins allowed to call the API (CORS); '' (the "
        "default) sends no CORS headers at all.",
    )
    # The web UI (issue 17): how long a signed-in session lasts.
    ui_session_idle_minutes: int = Field(
        default=30,
        ge=1,
        le=24 * 60,
        description="The web UI: a session unused this long ends (sign in again).",
    )
    ui_session_max_hours: int = Field(
        default=12,
        ge=1,
        le=7 * 24,
        description="The web UI: a session ends this long after sign-in, however busy.",
    )
    hsts_seconds: int = Field(
        default=0,
        ge=0,
        description="Strict-Transport-Security max-age to send (only when Vigil is served "
        "over HTTPS); 0 sends none.",
    )

    # Data protection: crypto-shredding keys and retention.
    master_key: SecretStr | None = Field(
        default=None,
        description="Base64 of 32 random bytes: wraps every data subject's key. Losing it loses "
        "every personal field. Outside production, if neither this nor master_key_file is set, "
        "<data_dir>/master.key is made at first use (mode 0600).",
    )
    master_key_file: Path | None = Field(
        default=None, description="A file holding the master key (base64), e.g. a secret mount."
    )
    key_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How long another process may go on decrypting with a subject key after it "
        "was destroyed (the process that destroys it stops at once).",
    )
    retention_years: dict[Category, int] = Field(
        default_factory=dict,
        description="Years after closure a case's personal data is kept, per category, as JSON "
        '({"spam": 2}), over the defaults: self_harm_risk and harm_to_others 25 years (they may '
        "concern children), every other category retention_default_years.",
    )
    retention_default_years: int = Field(
        default=6, ge=1, le=200, description="Years after closure for categories not named."
    )
    retention_contact_years: int = Field(
        default=6,
        ge=1,
        le=200,
        description="Years after a helpline contact occurred that its personal data is kept, "
        "unless it is linked to a case (then as long as its case's).",
    )

    # Integrity: the hash ledger over the event log and its signed checkpoints.
    signing_key_file: Path | None = Field(
        default=None,
        description="The Ed25519 signing key (PEM, PKCS#8) for checkpoints. Unset: "
        "<data_dir>/signing-key.pem, generated at first use (mode 0600). Every process that "
        "signs (serve, project) must use the same key.",
    )
    checkpoint_every_events: int = Field(
        default=1000, ge=1, description="Sign a checkpoint each time the log grows this much."
    )
    checkpoint_every_seconds: float = Field(
        default=60.0,
        gt=0,
        description="...or when it grew at all and this long passed since the last checkpoint.",
    )
    hash_ledger_batch_size: int = Field(default=5000, ge=1, le=100_000)
    hash_ledger_poll_seconds: float = Field(
        default=1.0, gt=0, le=60, description="How often the notary looks for new events."
    )

    # Compliance reports (issue 15).
    report_suppression_threshold: int = Field(
        default=5,
        ge=2,
        le=100,
        description="In the trustee pack, counts under this show as 'fewer than N' (and a total "
        "that would reveal one is withheld), so that no person can be identified.",
    )
    engagement_spike_multiple: float = Field(
        default=2.0,
        gt=1.0,
        le=100.0,
        description="The community report marks a day a spike in a forum category when its "
        "posts exceed this multiple of the category's median posts a day over the 28 days "
        "before it (and number at least 5).",
    )
    # Shifts, the write side (issue 13): attendance and planning rules.
    shift_early_check_in_minutes: int = Field(
        default=30,
        ge=0,
        le=24 * 60,
        description="How long before their part of a shift its assignee may check in.",
    )
    shift_max_length_hours: int = Field(
        default=24, ge=1, le=72, description="The longest a planned shift may be."
    )
    # Shifts, read side (issue 13): the shift log's late mark and the rota's weekly hours cap.
    shift_log_late_minutes: float = Field(
        default=15,
        ge=0,
        le=7 * 24 * 60,
        description="The shift log marks an action late when it was recorded more than this "
        "many minutes after it occurred.",
    )
    rota_weekly_hours_cap: float = Field(
        default=12,
        gt=0,
        le=168,
        description="GET /rota/gaps lists people planned for more than this many hours in a "
        "week (crisis lines advise volunteers to give no more than 12).",
    )

    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("operating_hours")
    @classmethod
    def _readable_hours(cls, value: str) -> str:
        parse_weekly_hours(value)
        return value

    @field_validator("four_eyes")
    @classmethod
    def _known_four_eyes_rules(cls, value: str) -> str:
        return ",".join(FourEyesPolicy.parse(value).rules)

    @property
    def four_eyes_policy(self) -> FourEyesPolicy:
        return FourEyesPolicy.parse(self.four_eyes, sanction_days=self.four_eyes_sanction_days)

    @field_validator("restricted_categories")
    @classmethod
    def _known_categories(cls, value: str) -> str:
        names = [part.strip() for part in value.split(",") if part.strip()]
        unknown = [name for name in names if name not in {c.value for c in Category}]
        if unknown:
            raise ValueError(f"unknown categories: {', '.join(unknown)}")
        return ",".join(names)

    @property
    def restricted_category_set(self) -> frozenset[str]:
        """The restricted categories as a set of category values."""
        return frozenset(p for p in self.restricted_categories.split(",") if p)

    @field_validator("oidc_algorithms")
    @classmethod
    def _asymmetric_algorithms(cls, value: str) -> str:
        allowed = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"}
        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = [name for name in names if name not in allowed]
        if unknown or not names:
            raise ValueError(
                f"use asymmetric JWT algorithms ({', '.join(sorted(allowed))}), not {unknown}"
            )
        return ",".join(names)

    @model_validator(mode="after")
    def _oidc_complete(self) -> Settings:
        if self.oidc_issuer and not (self.oidc_audience and self.oidc_jwks_url):
            raise ValueError("OIDC needs VIGIL_OIDC_AUDIENCE and VIGIL_OIDC_JWKS_URL too")
        return self

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer)

    @model_validator(mode="after")
    def _oidc_sign_in_complete(self) -> Settings:
        if self.oidc_client_id and not self.oidc_issuer:
            raise ValueError("VIGIL_OIDC_CLIENT_ID needs VIGIL_OIDC_ISSUER (and its settings)")
        callback = "/ui/login/oidc/callback"
        if self.oidc_redirect_url and not self.oidc_redirect_url.endswith(callback):
            raise ValueError(f"VIGIL_OIDC_REDIRECT_URL must be this service's {callback}")
        if "openid" not in self.oidc_scopes.split():
            raise ValueError("VIGIL_OIDC_SCOPES must include openid")
        secret = self.oidc_client_secret
        if secret is not None and secret.get_secret_value() and self.oidc_client_secret_file:
            raise ValueError(
                "set VIGIL_OIDC_CLIENT_SECRET or VIGIL_OIDC_CLIENT_SECRET_FILE, not both"
            )
        return self

    @property
    def oidc_client_secret_value(self) -> str | None:
        """The web UI's OIDC client secret, from the setting or its file (None: a public
        client). Read when the sign-in is built; never logged."""
        if self.oidc_client_secret is not None and self.oidc_client_secret.get_secret_value():
            return self.oidc_client_secret.get_secret_value()
        if self.oidc_client_secret_file is None:
            return None
        try:
            secret = self.oidc_client_secret_file.read_text().strip()
        except OSError as exc:
            raise ValueError(f"cannot read VIGIL_OIDC_CLIENT_SECRET_FILE: {exc.strerror}") from None
        if not secret:
            raise ValueError("VIGIL_OIDC_CLIENT_SECRET_FILE is empty")
        return secret

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        proxies = []
        for name in (part.strip() for part in value.split(",") if part.strip()):
            try:
                # Normalised, as uvicorn reads them strictly: 10.0.0.7/24 is 10.0.0.0/24.
                if "/" in name:
                    proxies.append(str(ipaddress.ip_network(name, strict=False)))
                else:
                    proxies.append(str(ipaddress.ip_address(name)))
            except ValueError:
                # '*' or a host name would let anyone who can reach Vigil say who they are.
                raise ValueError(
                    f"{name!r} is not an IP address or network (e.g. 10.0.0.5, 10.0.0.0/24)"
                ) from None
        return ",".join(proxies)

    @property
    def trusted_proxy_list(self) -> list[str]:
        """The trusted proxies' addresses and networks (empty: forwarded headers are ignored)."""
        return [name for name in self.trusted_proxies.split(",") if name]

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def sla_targets(self) -> SlaTargets:
        """The SLA policy's version 1 (the default, until it is recorded): the ``sla_*``
        settings, and the hard defaults (``domain.policy.sla.DEFAULT_TARGETS``) for the rest."""
        return SlaTargets.model_validate(
            {
                **dict(DEFAULT_TARGETS),
                "escalation_acknowledged": {
                    Urgency.IMMEDIATE: Target(minutes=self.sla_escalation_immediate_minutes),
                    Urgency.URGENT: Target(minutes=self.sla_escalation_urgent_minutes),
                    Urgency.ROUTINE: Target(working_days=self.sla_escalation_routine_working_days),
                },
                "referral_acknowledged": Target(working_days=self.sla_referral_ack_working_days),
                "referral_chase": Target(working_days=self.sla_referral_chase_working_days),
                "approval_decided": Target(working_days=self.sla_approval_working_days),
            }
        )

    @property
    def retention_policy(self) -> RetentionPolicy:
        """The retention rule (``domain.subject.retention``) with this service's years."""
        return RetentionPolicy(
            default_years=self.retention_default_years,
            by_category=dict(self.retention_years),
            contact_years=self.retention_contact_years,
        )

    def retention_period_years(self, category: Category) -> int:
        """Years after closure that a case of ``category`` keeps its personal data."""
        return self.retention_policy.years_for(category)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'vigil.db').resolve()}"
