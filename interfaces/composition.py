"""The composition root: builds Vigil's services from settings. Tests call it with their own
settings and clock instead of patching anything."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from application.access import AccessService
from application.cases import CaseService
from application.community import CommunityService
from application.compliance import RegisterService
from application.contact_lead_reviews import ContactLeadReviews
from application.contacts import ContactService
from application.data_protection import DataProtectionService
from application.identity import IdentityService
from application.integrity import IntegrityService
from application.integrity_views import ERASURE_TOPIC
from application.quality import ScorecardService
from application.reports.service import ReportService
from application.services import ServiceService
from application.shifts import RecordedServices, ShiftService, case_visibility
from application.sla_policies import SlaPolicyService
from domain.calendar import CalendarHistory, ServiceCalendar
from domain.policy.sla import first_version
from domain.service.errors import ServiceNotFound
from domain.shift.decide import ShiftPolicy
from infrastructure.calendar import (
    KNOWN_REGIONS,
    bank_holidays,
    build_calendar,
    default_service_calendar,
)
from infrastructure.clock import system_clock
from infrastructure.db_admin import prepare_store
from infrastructure.event_log import EventLog
from infrastructure.integrity_keys import SigningKey
from infrastructure.keys import SubjectKeyring, create_key_tables
from infrastructure.master_key import derive_key, load_master_key
from infrastructure.oidc import OidcConfig, OidcVerifier
from infrastructure.persistence import (
    attach_keyring,
    recorder_env,
)
from infrastructure.settings import Settings
from projections.access_log import AccessLog
from projections.actor_activity import ActorActivity
from projections.attendance import OpenCheckIns
from projections.case_summaries import CaseSummaries
from projections.community_members import CommunityMembers
from projections.contact_list import ContactSummaries
from projections.contact_queues import ContactQueues
from projections.notary import HashLedger, setup_ledger_tables
from projections.projector import Projector
from projections.registry import ViewConfig, build_views
from projections.report_queries import ReportFacts
from projections.rota import Rota
from projections.runner import View
from projections.shift_logs import ShiftLogs
from projections.shift_queues import ShiftQueues
from projections.store import view_store_for
from projections.subject_history import SubjectHistory
from projections.work_queues import WorkQueues


@dataclass
class Vigil:
    settings: Settings
    event_log: EventLog
    calendar: ServiceCalendar
    cases: CaseService
    identity: IdentityService
    clock: Callable[[], datetime]
    case_summaries: CaseSummaries
    work_queues: WorkQueues
    subject_history: SubjectHistory
    actor_activity: ActorActivity
    views: list[View]
    projector: Projector
    access: AccessService
    access_log: AccessLog
    integrity: IntegrityService
    data_protection: DataProtectionService
    keyring: SubjectKeyring
    # Shifts, the write side (issue 13): the rota and attendance, and who is checked in where.
    shifts: ShiftService
    open_check_ins: OpenCheckIns
    # Shifts, read side (issue 13): the rota, the shift queues and the shift logs (views), and
    # each service's calendar over time (for the rota's gaps).
    rota: Rota
    shift_queues: ShiftQueues
    shift_logs: ShiftLogs
    service_calendars: Callable[[str], CalendarHistory]
    # Services and their calendars (issue 13). ``calendar`` above is the settings' calendar: the
    # default service's first version until that service is recorded; judge by ``services``.
    services: ServiceService
    # The quality scorecard in versions (issue 14): what a contact's review is judged by.
    scorecards: ScorecardService
    # Helpline contacts, the write side and the read of one contact (issue 14).
    contacts: ContactService
    # Helpline contacts, read side (issue 14): the contact list (and a handler's feedback,
    # reviewers' agreement) and the contact queues, both read from the contact view.
    contact_summaries: ContactSummaries
    contact_queues: ContactQueues
    # A safeguarding lead's look at a review that failed a safeguarding criterion.
    contact_lead_reviews: ContactLeadReviews
    # Compliance reports (issue 15): the facts they count, and the reports themselves.
    report_facts: ReportFacts
    reports: ReportService
    # The SLA policy in versions (issue 15): the targets each due time is judged by.
    sla_policies: SlaPolicyService
    # The trustees' sign-offs of the serious-incident register (issue 15).
    register: RegisterService
    # Community intake (issue 16): Discourse deliveries, forum members and their welcomes.
    community: CommunityService
    # The web UI's sessions (issue 17): the key their rows are MAC'd under (from the master key).
    ui_session_key: bytes
    # Community intake, read side (issue 16): members who joined through intake, their welcome
    # due times, and the members_awaiting_welcome queue.
    community_members: CommunityMembers

    @property
    def follows_in_process(self) -> bool:
        """Whether `vigil serve` runs the projector: always on the embedded store, on
        PostgreSQL unless a separate `vigil project` worker does (projector_in_process)."""
        return not self.projector.is_postgres or self.settings.projector_in_process

    def close(self) -> None:
        self.integrity.notary.stop_following()
        self.projector.stop_following()
        self.event_log.close()


def view_config(settings: Settings) -> ViewConfig:
    """The settings' SLA policy and calendar (version 1 of the policy, the default service's
    first version, each until it is recorded) the views fold with, and a fingerprint of their
    settings."""
    fingerprint = "|".join(
        str(part)
        for part in (
            settings.timezone,
            settings.operating_hours,
            settings.bank_holidays,
            sorted(settings.closed_dates),
            settings.sla_escalation_immediate_minutes,
            settings.sla_escalation_urgent_minutes,
            settings.sla_escalation_routine_working_days,
            settings.sla_referral_ack_working_days,
            settings.sla_referral_chase_working_days,
            settings.sla_approval_working_days,
        )
    )
    return ViewConfig(
        default_calendar=default_service_calendar(settings),
        default_policy=first_version(settings.sla_targets),
        fingerprint=fingerprint,
        holidays=bank_holidays,
    )


def service_calendars(services: ServiceService) -> Callable[[str], CalendarHistory]:
    """Each service's calendar over time, as the services context records it; a service that
    does not exist is ``ServiceNotFound`` naming the ``service`` parameter (422 on a query)."""

    def calendar_of(service: str) -> CalendarHistory:
        try:
            return services.history(service)
        except ServiceNotFound:
            raise ServiceNotFound(
                f"no service named {service!r}", errors={"service": "unknown service"}
            ) from None

    return calendar_of


def setup_owner_tables(recorder: Any) -> None:
    """What ``vigil db init`` makes as the store's owner beside the log (``create_tables``): the
    hash ledger's tables, the subject key tables and, on PostgreSQL, the function through which
    the application role destroys keys (only those an erasure in the log names)."""
    setup_ledger_tables(recorder)
    create_key_tables(view_store_for(recorder), recorder, erasure_topic=ERASURE_TOPIC)


def rebuild_parts(
    settings: Settings, config: ViewConfig | None = None
) -> tuple[EventLog, list[View]]:
    """A rebuild's worker process's own ledger (with the subject keyring, as ``bootstrap``) and
    views (with ``config``, default: the settings'), made from the settings alone
    (``Projector(rebuild_parts=partial(rebuild_parts, settings))``)."""
    event_log = EventLog(env=recorder_env(settings))
    keyring = SubjectKeyring(
        load_master_key(settings), clock=system_clock, cache_seconds=settings.key_cache_seconds
    )
    keyring.attach(view_store_for(event_log.recorder))
    attach_keyring(event_log, keyring)
    if config is None:
        config = view_config(settings)
    return event_log, build_views(event_log, config)


def bootstrap(settings: Settings, *, clock: Callable[[], datetime] = system_clock) -> Vigil:
    prepare_store(settings)
    event_log = EventLog(env=recorder_env(settings))
    # Personal fields are sealed with data subject keys kept beside the log (crypto-shredding).
    master_key = load_master_key(settings)
    keyring = SubjectKeyring(master_key, clock=clock, cache_seconds=settings.key_cache_seconds)
    keyring.attach(view_store_for(event_log.recorder))
    attach_keyring(event_log, keyring)
    calendar = build_calendar(settings)
    oidc = OidcConfig.from_settings(settings)
    identity = IdentityService(
        event_log,
        clock=clock,
        write_retries=settings.write_retries,
        jwt_verifier=None if oidc is None else OidcVerifier(oidc),
    )
    services = ServiceService(
        event_log,
        clock=clock,
        write_retries=settings.write_retries,
        default_calendar=default_service_calendar(settings),
        holidays=bank_holidays,
        bank_holiday_regions=KNOWN_REGIONS,
    )
    # The quality scorecard (issue 14): the version a contact's review is judged by.
    scorecards = ScorecardService(event_log, clock=clock, write_retries=settings.write_retries)
    # The SLA policy (issue 15): version 1 from the settings, recorded with the first case.
    sla_policies = SlaPolicyService(
        event_log,
        clock=clock,
        write_retries=settings.write_retries,
        default_targets=settings.sla_targets,
    )
    cases = CaseService(
        event_log,
        services=services,
        clock=clock,
        snapshot_interval=settings.snapshot_interval,
        max_clock_skew_seconds=settings.max_clock_skew_seconds,
        write_retries=settings.write_retries,
        case_cache_size=settings.case_cache_size,
        user_exists=identity.is_active,
        four_eyes=settings.four_eyes_policy,
        sla_policies=sla_policies,
    )
    config = view_config(settings)
    views = build_views(event_log, config)
    projector = Projector(
        event_log,
        views,
        batch_size=settings.projector_batch_size,
        poll_interval=settings.projector_poll_seconds,
        fallback_interval=settings.projector_fallback_poll_seconds,
        listen=settings.projector_listen,
        rebuild_processes=settings.rebuild_processes,
        rebuild_parts=partial(rebuild_parts, settings),
        rebuild_worker_timeout=settings.rebuild_worker_timeout_seconds,
    )
    access_log = AccessLog(event_log, projector=projector)
    access = AccessService(
        event_log,
        cases,
        clock=clock,
        restricted=settings.restricted_category_set,
        break_glass_duration=timedelta(minutes=settings.break_glass_minutes),
        write_retries=settings.write_retries,
        granted_case_ids=access_log.granted_case_ids,
        find_grant=access_log.current_grant,
    )
    # Shifts, the write side (issue 13). Services: only `default` (the settings' calendar)
    # until services have calendars of their own; then pass the service service instead.
    open_check_ins = OpenCheckIns(event_log, projector=projector)
    shifts = ShiftService(
        event_log,
        clock=clock,
        services=RecordedServices(services),
        people=identity,
        sees_case=case_visibility(access),
        open_check_ins=lambda person: [c.shift_id for c in open_check_ins.current(person)],
        policy=ShiftPolicy(
            early_check_in=timedelta(minutes=settings.shift_early_check_in_minutes),
            max_length=timedelta(hours=settings.shift_max_length_hours),
        ),
        max_clock_skew_seconds=settings.max_clock_skew_seconds,
        write_retries=settings.write_retries,
        cache_size=settings.case_cache_size,
    )
    # Helpline contacts (issue 14). Reviews are judged by the scorecard version in force at the
    # contact (the quality context's ScorecardService, application/quality.py).
    contacts = ContactService(
        event_log,
        clock=clock,
        cases=cases,
        access=access,
        services=services,
        people=identity,
        scorecards=scorecards,
        sla_policies=sla_policies,
        max_clock_skew_seconds=settings.max_clock_skew_seconds,
        write_retries=settings.write_retries,
        cache_size=settings.case_cache_size,
    )
    # Community intake (issue 16): a forum's signed deliveries, its members' welcomes.
    community = CommunityService(
        event_log,
        clock=clock,
        cases=cases,
        services=services,
        users=identity,
        name_key=derive_key(master_key, b"vigil/forum-member-name/v1"),
        cases_of_subject=lambda kind, ref: keyring.cases_of([keyring.subject_hash(kind, ref)]),
        sla_policies=sla_policies,
        max_clock_skew_seconds=settings.max_clock_skew_seconds,
        write_retries=settings.write_retries,
        cache_size=settings.case_cache_size,
    )
    signing_key = SigningKey.from_settings(settings.signing_key_file, settings.data_dir)
    notary = HashLedger(
        event_log,
        signing_key=signing_key,
        clock=clock,
        every_events=settings.checkpoint_every_events,
        every_seconds=settings.checkpoint_every_seconds,
        batch_size=settings.hash_ledger_batch_size,
        poll_interval=settings.hash_ledger_poll_seconds,
    )
    report_facts = ReportFacts(event_log, projector=projector)
    reports = ReportService(
        report_facts,
        notary,
        clock=clock,
        threshold=settings.report_suppression_threshold,
        service_exists=services.exists,
        max_clock_skew_seconds=settings.max_clock_skew_seconds,
        spike_multiple=settings.engagement_spike_multiple,
    )
    return Vigil(
        ui_session_key=derive_key(master_key, b"vigil/ui-session/v1"),
        community=community,
        report_facts=report_facts,
        reports=reports,
        services=services,
        scorecards=scorecards,
        sla_policies=sla_policies,
        register=RegisterService(
            event_log,
            clock=clock,
            write_retries=settings.write_retries,
            max_clock_skew_seconds=settings.max_clock_skew_seconds,
        ),
        keyring=keyring,
        data_protection=DataProtectionService(
            event_log,
            cases,
            keyring,
            clock=clock,
            retention_years=settings.retention_policy.years_for,
            contact_retention_years=settings.retention_policy.contact_years,
            write_retries=settings.write_retries,
            forum_member_events=community.member_events,
        ),
        integrity=IntegrityService(
            event_log, notary, signing_key, projector=projector, keyring=keyring
        ),
        access=access,
        access_log=access_log,
        settings=settings,
        event_log=event_log,
        calendar=calendar,
        cases=cases,
        identity=identity,
        clock=clock,
        case_summaries=CaseSummaries(event_log, projector=projector),
        work_queues=WorkQueues(event_log, projector=projector),
        subject_history=SubjectHistory(event_log, projector=projector),
        actor_activity=ActorActivity(event_log, projector=projector),
        views=views,
        projector=projector,
        shifts=shifts,
        open_check_ins=open_check_ins,
        rota=Rota(event_log, projector=projector),
        shift_queues=ShiftQueues(event_log, projector=projector),
        shift_logs=ShiftLogs(
            event_log,
            projector=projector,
            late_after=timedelta(minutes=settings.shift_log_late_minutes),
        ),
        service_calendars=service_calendars(services),
        contacts=contacts,
        contact_summaries=ContactSummaries(
            event_log, projector=projector, restricted=settings.restricted_category_set
        ),
        contact_queues=ContactQueues(
            event_log, projector=projector, calendars=config.service_calendars(event_log)
        ),
        community_members=CommunityMembers(
            event_log,
            projector=projector,
            calendars=config.service_calendars(event_log),
            policies=config.sla_policies(event_log),
        ),
        contact_lead_reviews=ContactLeadReviews(
            event_log,
            clock=clock,
            max_clock_skew_seconds=settings.max_clock_skew_seconds,
            write_retries=settings.write_retries,
        ),
    )
