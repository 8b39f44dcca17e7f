"""Where a model holds personal data, found from its ``PERSONAL`` annotations, and how to blank it.

A *plan* lists, for one model class, the fields that hold personal data: fields marked
``PERSONAL`` (their whole value: a string or a list of strings) and nested models (one, a list
of them or a dict of them, optional or not) that hold some themselves. Storage walks plans to
encrypt those values under the data subject's key (``infrastructure.persistence``); the domain
walks them to blank a case's state once its subject's data is erased.

An erased value reads as ``ERASED`` (a list as ``[ERASED]``): it passes the stored events'
validation (stored fields carry no business rules), so an erased event is still a valid event.

Whose personal data a stored model holds is declared, never guessed from its field names: each
event or snapshot class with a ``PERSONAL`` field sets ``__data_subject__`` to a declaration
(``DataSubjectOf``) that names its ``DataSubject``: a person named outright, the subject of a
case, or the stream itself when no person is named. Storage seals the personal fields under
that subject's key, and erasing the subject destroys the key (``declared_subject``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin
from uuid import UUID

from pydantic import BaseModel

from domain.shared import personal_fields

ERASED = "[erased]"
"""What a personal field reads as once its data subject's key is destroyed (crypto-shredded)."""

StepKind = Literal["value", "model", "list", "dict"]


@dataclass(frozen=True)
class Step:
    """One field of a plan: a personal ``value`` (``many``: a list of strings), or a nested
    ``model`` / ``list`` of models / ``dict`` of models whose own ``plan`` holds personal data."""

    name: str
    kind: StepKind
    many: bool = False
    plan: tuple[Step, ...] = ()


Plan = tuple[Step, ...]


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated and Optional: ``Annotated[X | None, ...]`` -> X."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
            continue
        if origin is Union or type(annotation).__name__ == "UnionType":
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) == 1:
                annotation = args[0]
                continue
        return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


@cache
def plan_for(model: type[BaseModel]) -> Plan:
    """The personal fields of ``model``, nested models included (empty: nothing personal)."""
    personal = set(personal_fields(model))
    steps: list[Step] = []
    for name, field in model.model_fields.items():
        annotation = _unwrap(field.annotation)
        origin = get_origin(annotation)
        if name in personal:
            steps.append(Step(name, "value", many=origin in (list, tuple)))
        elif _is_model(annotation):
            if sub := plan_for(annotation):
                steps.append(Step(name, "model", plan=sub))
        elif origin in (list, tuple) and get_args(annotation):
            item = _unwrap(get_args(annotation)[0])
            if _is_model(item) and (sub := plan_for(item)):
                steps.append(Step(name, "list", plan=sub))
        elif origin is dict and len(get_args(annotation)) == 2:
            item = _unwrap(get_args(annotation)[1])
            if _is_model(item) and (sub := plan_for(item)):
                steps.append(Step(name, "dict", plan=sub))
    return tuple(steps)


def erased_value(step: Step) -> Any:
    return [ERASED] if step.many else ERASED


M = TypeVar("M", bound=BaseModel)


def redacted(model: M) -> M:
    """A copy of ``model`` with every personal value (nested ones too) read as erased."""
    plan = plan_for(type(model))
    if not plan:
        return model
    update: dict[str, Any] = {}
    for step in plan:
        value = getattr(model, step.name)
        if value is None:
            continue
        if step.kind == "value":
            update[step.name] = [] if step.many and not value else erased_value(step)
        elif step.kind == "model":
            update[step.name] = redacted(value)
        elif step.kind == "list":
            update[step.name] = [redacted(item) for item in value]
        else:
            update[step.name] = {key: redacted(item) for key, item in value.items()}
    return model.model_copy(update=update)


def erased_paths(model: BaseModel, prefix: str = "") -> list[str]:
    """Dotted paths of the personal values of ``model`` that read as erased."""
    found: list[str] = []
    for step in plan_for(type(model)):
        value = getattr(model, step.name)
        path = prefix + step.name
        if value is None:
            continue
        if step.kind == "value":
            if value == ERASED or (step.many and ERASED in value):
                found.append(path)
        elif step.kind == "model":
            found.extend(erased_paths(value, path + "."))
        elif step.kind == "list":
            for i, item in enumerate(value):
                found.extend(erased_paths(item, f"{path}.{i}."))
        else:
            for key, item in value.items():
                found.extend(erased_paths(item, f"{path}.{key}."))
    return found


class ErasureTrigger(StrEnum):
    """Why a data subject's personal data was erased."""

    REQUEST = "request"  # a safeguarding lead's decision (e.g. a right-to-erasure request)
    RETENTION = "retention"  # its retention period had run out (`vigil retention --apply`)


# --- whose personal data ------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """A data subject named outright by ``kind`` and ``ref`` (what a case is about, a caller)."""

    kind: str
    ref: str


@dataclass(frozen=True)
class SubjectOfCase:
    """Whoever the case ``case_id`` is about. ``named`` is given by the case's opening only:
    storage remembers it as the case's subject, which every later declaration finds."""

    case_id: UUID
    named: Person | None = None


@dataclass(frozen=True)
class OwnStream:
    """No person is named (an anonymous contact): the stream is its own subject, with a key of
    its own, erased when whatever holds the stream says so.

    ``names_cases``: the cases whose subjects the sealed text may speak of (a shift handover's
    open cases). Storage links the stream's key to each of them when it seals the text, so
    erasing the subject of one of those cases can find the key (``NamingCase``)."""

    stream_id: UUID
    names_cases: tuple[UUID, ...] = ()


@dataclass(frozen=True)
class NamingCase:
    """Every key of its own (``OwnStream``) that storage linked to ``case_id`` when it sealed
    text naming the case: what erasing the case's subject must destroy besides the case's own
    key. Named by holders (``application.data_protection``), never declared by a class."""

    case_id: UUID


@dataclass(frozen=True)
class SubjectOfContact:
    """Whoever a helpline contact's caller is. ``caller`` is given by the contact's logging
    only: a named caller (``Person("contact", ref)``), or, for an anonymous caller, the
    contact's own stream (``OwnStream``). Storage remembers it as the contact's subject, as it
    does a case's, and every later event of the contact finds it there, so the whole contact
    goes with its caller's erasure."""

    contact_id: UUID
    caller: Person | OwnStream | None = None


DataSubject = Person | SubjectOfCase | OwnStream | NamingCase | SubjectOfContact

Declaration = Callable[[Any], DataSubject]
"""A model's ``__data_subject__``: given an instance, whose personal data its fields are."""


class UndeclaredSubject(TypeError):
    """A model holds personal fields but declares no data subject: its data would escape
    erasure, so it is never stored."""


class DataSubjectOf:
    """The declarations a class sets as ``__data_subject__``. Each reads what its docstring
    names from the instance (checked for every stored class by the domain's tests)."""

    @staticmethod
    def case_subject(event: Any) -> DataSubject:
        """An event of a case's stream: the case's subject."""
        return SubjectOfCase(event.originator_id)

    @staticmethod
    def case_opened(event: Any) -> DataSubject:
        """A case's opening: the subject it names, from now on the case's."""
        named = Person(event.subject.kind, event.subject.ref)
        return SubjectOfCase(event.originator_id, named=named)

    @staticmethod
    def case_state_subject(snapshot: Any) -> DataSubject:
        """A snapshot of a case: the subject its state names."""
        return Person(snapshot.state.subject.kind, snapshot.state.subject.ref)

    @staticmethod
    def subject_of_its_case(event: Any) -> DataSubject:
        """Written about a case in another stream (a break-glass reason, its review): the
        case's subject, so erasing the subject erases these words too."""
        return SubjectOfCase(event.case_id)

    @staticmethod
    def handover(event: Any) -> DataSubject:
        """A shift's handover note: a key of the handover's own (``handover_id``). A note may
        speak of the subjects of several cases (its ``case_ids``) and of others besides, so it
        is sealed apart, linked to each of its cases, and erasing the subject of one of its
        cases destroys its key."""
        return OwnStream(event.handover_id, names_cases=tuple(event.case_ids))

    @staticmethod
    def contact_logged(event: Any) -> DataSubject:
        """A helpline contact's logging: a named caller is a person (``contact`` + their ref),
        an anonymous caller is keyed to the contact itself; from now on, the contact's."""
        caller = event.caller
        named = not caller.anonymous and caller.ref is not None
        return SubjectOfContact(
            event.originator_id,
            caller=Person("contact", caller.ref) if named else OwnStream(event.originator_id),
        )

    @staticmethod
    def contact_subject(event: Any) -> DataSubject:
        """A later event of a helpline contact's stream: the subject its logging named."""
        return SubjectOfContact(event.originator_id)

    @staticmethod
    def forum_member(event: Any) -> DataSubject:
        """A forum member's stream (community intake): the member (``member`` + their ref)."""
        return Person("member", event.member_ref)

    @staticmethod
    def own_stream(event: Any) -> DataSubject:
        """Personal data about no named person: the stream's own key."""
        return OwnStream(event.originator_id)


def declaration_of(model: type[BaseModel]) -> Declaration | None:
    """The class's ``__data_subject__`` (inherited ones count), or None."""
    declared = getattr(model, "__data_subject__", None)
    return declared if callable(declared) else None


def declared_subject(model: BaseModel) -> DataSubject:
    """Whose personal data ``model``'s personal fields are, as its class declares."""
    declared = declaration_of(type(model))
    if declared is None:
        raise UndeclaredSubject(
            f"{type(model).__name__} holds personal fields but declares no data subject: set "
            "__data_subject__ (domain.personal.DataSubjectOf) so that erasure can reach them"
        )
    return declared(model)
