"""What Vigil takes as text: a reason is words, free text holds no control or bidi-override
characters, a username explains itself, a moment is never a number. One rule each, in
``domain.shared``, on every field of every command and request body that takes text."""

from __future__ import annotations

from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from domain.case.commands import CaseCommand
from domain.shared import Moment, PersonalText, Rationale, Ref, ShortPersonalText, Username
from interfaces.composition import Vigil
from interfaces.http import create_app

RATIONALE: TypeAdapter[str] = TypeAdapter(Rationale)


def refusal(adapter: TypeAdapter[Any], value: Any) -> str | None:
    """The message a value is refused with, or None if it is taken."""
    try:
        adapter.validate_python(value)
    except ValidationError as error:
        return str(error.errors()[0]["msg"])
    return None


@pytest.mark.parametrize(
    "text",
    [
        "Member described a plan to self-harm tonight and has access to means.",
        "No reply since 07:00.",
        "Mae'r aelod wedi dweud bod ganddo gynllun heno.",  # Welsh
        "Członek opisał plan samookaleczenia na dziś wieczór.",  # Polish
        "أخبرنا العضو أنه يخطط لإيذاء نفسه الليلة",  # Arabic
        "\u200fأخبرنا العضو أنه يخطط لإيذاء نفسه\u200f",  # noqa: RUF001 - with right-to-left marks (format)
        "Член сообщества сообщил о плане",  # noqa: RUF001 - Russian
        "सदस्य ने आज रात खुद को नुकसान पहुँचाने की बात कही",  # Hindi, with vowel signs
        "会员表示今晚有自残的计划",  # Chinese: no spaces between words
        "Line one of the reason.\nLine two, with\ta tab.",
    ],
)
def test_a_reason_in_words_is_taken_in_any_language(text: str) -> None:
    assert refusal(RATIONALE, text) is None


@pytest.mark.parametrize(
    "text",
    [
        "\u200b" * 40,  # zero-width spaces
        "\u2060\u200d\ufeff" * 10,  # word joiners, zero-width joiners, BOMs
        "..........",
        "!!!! ???? ....",
        "-- -- -- -- --",
        "asdfasdfas",  # one token
        "asdf asdf asdf",  # one word, repeated
        "ok ........",
        "n/a",
        "too short",
        "a b .............",  # mostly punctuation
    ],
)
def test_what_is_not_a_reason_is_refused(text: str) -> None:
    message = refusal(RATIONALE, text)
    assert message is not None
    assert "words" in message


# Characters that are no part of a word: punctuation, symbols, spaces and format characters.
NOT_WORDS = st.characters(
    categories=["Pc", "Pd", "Ps", "Pe", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Cf"]
)


@given(st.text(NOT_WORDS, min_size=10, max_size=200))
def test_no_run_of_punctuation_symbols_or_invisible_characters_is_a_reason(text: str) -> None:
    assert refusal(RATIONALE, text) is not None


@given(
    st.lists(
        st.text(st.characters(categories=["L"]), min_size=3, max_size=12),
        min_size=3,
        max_size=12,
        unique_by=str.casefold,
    )
)
def test_several_different_words_of_letters_are_a_reason(words: list[str]) -> None:
    assert refusal(RATIONALE, " ".join(words) + ".") is None


@pytest.mark.parametrize("adapter", [TypeAdapter(t) for t in (PersonalText, Rationale)])
@pytest.mark.parametrize(
    "character", ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\u202a", "\u202e", "\u2066", "\u2069"]
)
def test_free_text_refuses_control_and_bidi_override_characters(
    adapter: TypeAdapter[Any], character: str
) -> None:
    message = refusal(adapter, f"Spoke to the member {character}at home today.")
    assert message is not None
    assert f"U+{ord(character):04X}" in message


def test_line_breaks_and_tabs_are_text_but_not_in_one_line() -> None:
    assert refusal(TypeAdapter(PersonalText), "Called.\n\tNo answer.") is None
    for one_line in (ShortPersonalText, Ref):
        assert refusal(TypeAdapter(one_line), "post\n42") is not None


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("b\u0435n", "'\u0435' (U+0435 CYRILLIC SMALL LETTER IE) is not one of them"),
        ("\u0445avier", "'\u0445' (U+0445 CYRILLIC SMALL LETTER HA) is not one of them"),
        ("da\x00na", "U+0000 NULL is not one of them"),
        ("d", "2 to 63 characters"),
        ("-dana", "starts with a Latin letter or a digit"),
    ],
)
def test_a_username_that_is_not_one_says_why_in_words(name: str, said: str) -> None:
    message = refusal(TypeAdapter(Username), name)
    assert message is not None
    assert said in message
    assert "[a-z" not in message


@pytest.mark.parametrize("value", [0, 0.5, "0.5", "1763372400", "2026-11-17", "2026-11-17T10:00"])
def test_a_moment_is_an_rfc3339_date_time_with_an_offset(value: Any) -> None:
    assert refusal(TypeAdapter(Moment), value) is not None
    assert refusal(TypeAdapter(Moment), "2026-11-17T10:00:00+01:00") is None


# --- every text field has the rule ---------------------------------------------------------------


def _models_in(annotation: Any) -> set[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {annotation}
    if get_origin(annotation) in (Annotated, Union, UnionType, list, tuple, set, frozenset, dict):
        return {m for arg in get_args(annotation) for m in _models_in(arg)}
    return set()


def _with_nested(models: set[type[BaseModel]]) -> set[type[BaseModel]]:
    found = set(models)
    todo = list(models)
    while todo:
        for field in todo.pop().model_fields.values():
            for nested in _models_in(field.annotation) - found:
                found.add(nested)
                todo.append(nested)
    return found


def test_every_text_field_a_client_can_send_refuses_control_characters(vigil: Vigil) -> None:
    # Given every model a command or a request body is read into
    bodies: set[type[BaseModel]] = set(get_args(CaseCommand))
    for context in iter_route_contexts(create_app(vigil).routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            for param in route.dependant.body_params:
                bodies |= _models_in(param.field_info.annotation)
    models = _with_nested(bodies)
    assert len(models) > 20

    # When each of their fields is sent text holding a NUL and a right-to-left override (alone,
    # or in a list for a field that takes several)
    unguarded = []
    for model in models:
        for name, field in model.model_fields.items():
            refused = set()
            for smuggled in ("text\x00\u202etxet", ["text\x00\u202etxet"]):
                try:
                    model.model_validate({name: smuggled})
                except ValidationError as error:
                    refused |= {e["type"] for e in error.errors() if e["loc"][:1] == (name,)}
            # A str sent to a list field (or a list to a str field) says nothing of the rule
            if not refused - {"string_type", "list_type"}:
                unguarded.append(f"{model.__name__}.{name}: {field.annotation}")

    # Then every one refuses it (by the text rule, a pattern or a type that is not text)
    assert not unguarded, "fields that take control characters:\n" + "\n".join(unguarded)
