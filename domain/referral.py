"""THE rule for sharing information with another agency, whoever records the referral: a case
(``domain.case.commands.MakeReferral``) or a helpline contact's referral follow-up
(``domain.contact.commands.ScheduleFollowUp``). One rule, one wording, in one place.

Sharing without consent must say why, and on what lawful basis (UK GDPR Art 6/9, DPA 2018
Sch 1 para 18: safeguarding of children and individuals at risk). Information-sharing golden
rule 7: record the decision, whether to share or not, and the reason for it.
"""

from __future__ import annotations

from domain.case.vocabulary import Consent


def referral_consent_problem(
    consent: Consent, consent_rationale: str | None, lawful_basis: str | None
) -> str | None:
    """Why a referral with this consent cannot be made as it stands, or None if it can."""
    if consent is Consent.GIVEN:
        return None
    missing = [
        name
        for name, value in (
            ("consent_rationale", consent_rationale),
            ("lawful_basis", lawful_basis),
        )
        if value is None
    ]
    if not missing:
        return None
    return f"a referral with consent '{consent.value}' needs " + " and ".join(missing)


def check_referral_consent(
    consent: Consent, consent_rationale: str | None, lawful_basis: str | None
) -> None:
    """Raise ValueError (a 422 at the edge, as a command's validator) when the referral without
    consent does not say why and on what lawful basis."""
    problem = referral_consent_problem(consent, consent_rationale, lawful_basis)
    if problem is not None:
        raise ValueError(problem)
