"""Where a model holds personal data, found from its ``PERSONAL`` annotations, and how to blank it.

A *plan* lists, for one model class, the fields that hold personal data: fields marked
``PERSONAL`` (their whole value: a string or a list of strings) and nested models (one, a list
of them or a dict of them, optional or not) that hold some themselves. Storage walks plans to
encrypt those values under the data subject's key (``infrastructure.persistence``); the domain
walks them to blank a case's state once its subject's data is erased.

An erased value reads as ``ERASED`` (a list as ``[ERASED]``): it passes the stored events'
validation (stored fields carry no business rules), so an erased event is still a valid event.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

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
