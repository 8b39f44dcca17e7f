"""Request examples for the OpenAPI docs: realistic safeguarding records, no real people."""

from __future__ import annotations

from typing import Any

Examples = dict[str, dict[str, Any]]

COMMUNITY_GUIDELINES = {"policy": "community-guidelines", "version": "2024-03", "clause": "4.2"}
OUT_OF_HOURS_POLICY = {"policy": "out-of-hours-safeguarding", "version": "2025-01", "clause": "3.1"}

OPEN_CASE: Examples = {
    "self_harm_flag": {
        "summary": "A member's post suggests self-harm (flagged overnight, logged next morning)",
        "value": {
            "subject": {"kind": "member", "ref": "forum-member-48213", "display_name": "Sam"},
            "source": "flag",
            "category": "self_harm_risk",
            "summary": "Post in the 'Living with type 1' board says they have stopped taking "
            "insulin and 'won't be around much longer'. Flagged by another member.",
            "risk_level": "high",
            "channel": "forum",
            "occurred_at": "2026-11-16T22:47:00+00:00",
        },
    },
    "helpline_hate_incident": {
        "summary": "A helpline contact reports a hate incident",
        "value": {
            "subject": {"kind": "contact", "ref": "call-2026-11-17-0091"},
            "source": "helpline_contact",
            "category": "hate_incident",
            "summary": "Caller reports repeated racist abuse from a neighbour, most recently "
            "this morning; caller is frightened to leave home.",
            "channel": "phone",
        },
    },
}

RAISE_FLAG: Examples = {
    "second_member_flag": {
        "summary": "Another member flags the same post",
        "value": {
            "reason": "Worried about this person, the post sounds like a goodbye",
            "category": "self_harm_risk",
            "raised_by_ref": "forum-member-10377",
            "content_ref": "https://forum.example.org/t/living-with-t1/88120#post-7",
        },
    }
}

ASSESS_RISK: Examples = {
    "critical": {
        "summary": "Risk assessed as critical",
        "value": {
            "level": "critical",
            "rationale": "Explicit statement of intent with a method (stopping insulin) and a "
            "timeframe; no protective factors mentioned; member has posted similar before.",
        },
    }
}

ASSIGN: Examples = {
    "coordinator": {"summary": "Assign to the on-shift coordinator", "value": {"assignee": "priya"}}
}

MODERATE: Examples = {
    "hide_content": {
        "summary": "Hide the post under the community guidelines, clause 4.2",
        "value": {
            "action": "hide_content",
            "target_ref": "https://forum.example.org/t/living-with-t1/88120#post-7",
            "rationale": "Post describes a method of self-harm; hidden to protect other members "
            "while we contact the author privately.",
            "policy_ref": COMMUNITY_GUIDELINES,
        },
    },
    "suspend_member": {
        "summary": "Suspend a member for 72 hours",
        "value": {
            "action": "suspend_member",
            "target_ref": "forum-member-5521",
            "rationale": "Third warning for abusive replies to members asking for help; "
            "suspended to stop the pile-on while the thread is reviewed.",
            "policy_ref": {"policy": "community-guidelines", "version": "2024-03", "clause": "6.1"},
            "duration_hours": 72,
        },
    },
}

OUT_OF_HOURS_DECISION: Examples = {
    "night_call": {
        "summary": "On-call decision at 23:10, logged the next morning",
        "value": {
            "decision": "Contacted the member by private message with crisis line details; "
            "did not call emergency services.",
            "immediate_actions": [
                "Hid the post",
                "Sent Samaritans and 999 details by private message",
            ],
            "rationale": "Member replied within ten minutes, said they were safe tonight and "
            "with their partner; risk judged reduced enough to wait for the morning team.",
            "policy_ref": OUT_OF_HOURS_POLICY,
            "occurred_at": "2026-11-16T23:10:00+00:00",
        },
    }
}

REVIEW: Examples = {
    "ratified": {
        "summary": "A safeguarding lead ratifies the night decision",
        "value": {
            "outcome": "ratified",
            "rationale": "Decision proportionate: member engaged, partner present, crisis "
            "details given. Follow-up call booked for today.",
        },
    }
}

REFERRAL: Examples = {
    "crisis_line_without_consent": {
        "summary": "Referral to a crisis line without consent (vital interests)",
        "value": {
            "agency": {"name": "Samaritans", "kind": "crisis_line"},
            "reason": "Member has stopped replying after stating intent to stop insulin.",
            "consent": "not_sought",
            "consent_rationale": "Seeking consent would delay help where there is a risk to "
            "life; the member could not be reached.",
            "lawful_basis": "UK GDPR Art 6(1)(d) vital interests; DPA 2018 Sch 1 para 18",
        },
    },
    "police_with_consent": {
        "summary": "Referral to the police with the caller's consent",
        "value": {
            "agency": {"name": "Metropolitan Police", "kind": "police"},
            "reason": "Caller wishes to report repeated racist abuse by a neighbour.",
            "consent": "given",
            "reference": "CAD 4471/17NOV",
        },
    },
}

REFERRAL_UPDATE: Examples = {
    "acknowledged": {
        "summary": "The agency acknowledges the referral",
        "value": {
            "status": "acknowledged",
            "reference": "SAM-2026-11-0042",
            "note": "Acknowledged by phone; a volunteer will call the member today.",
        },
    }
}

ESCALATE: Examples = {
    "to_lead": {
        "summary": "Escalate urgently to the safeguarding lead",
        "value": {
            "level": "safeguarding_lead",
            "reason": "Risk to life; the member has not replied for two hours.",
            "urgency": "urgent",
        },
    }
}

ACKNOWLEDGE: Examples = {
    "picked_up": {"summary": "The lead picks it up", "value": {"note": "On it, calling now."}}
}

RESOLVE: Examples = {
    "resolved": {
        "summary": "The escalation is resolved",
        "value": {
            "outcome": "Member reached and safe; referred to crisis line",
            "rationale": "Spoke to the member, who agreed a safety plan; crisis line referral "
            "made and acknowledged.",
        },
    }
}

NOTE: Examples = {
    "fact": {
        "summary": "A fact, in the member's own words",
        "value": {"kind": "fact", "text": "Member wrote: 'I'm ok now, my partner is here.'"},
    },
    "assessment": {
        "summary": "A professional judgement",
        "value": {
            "kind": "assessment",
            "text": "Engaging well; risk reduced but still present. Keep open for a week.",
        },
    },
}

CORRECTION: Examples = {
    "wrong_time": {
        "summary": "Correct a mistake in an earlier record",
        "value": {
            "corrects_event_id": "0a1b2c3d-4e5f-8a7b-8c9d-0e1f2a3b4c5d",
            "correction": "The member's message was at 23:40, not 23:14.",
            "reason": "Time copied wrongly from the chat log when logging the next morning.",
        },
    }
}

CLOSE: Examples = {
    "safe": {
        "summary": "Close the case",
        "value": {
            "outcome": "Member safe and supported; no further action",
            "rationale": "Crisis line and GP involved; member confirmed a safety plan and has "
            "posted positively since. Decision and review complete.",
        },
    }
}

REOPEN: Examples = {
    "new_post": {
        "summary": "Reopen after a new worrying post",
        "value": {"reason": "Member posted again tonight in similar terms; reopening the case."},
    }
}
