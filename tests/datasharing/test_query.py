"""The strict parser of query strings, path ids and headers: nothing a client sends reaches a
query, a comparison or `int()` unchecked."""

from __future__ import annotations

import re

import pytest
from django.http import QueryDict
from rest_framework.exceptions import ValidationError

from datasharing.query import (
    INVISIBLE_CLASS,
    MAX_INT,
    MAX_LIST_VALUES,
    parse_int,
    query_bool,
    query_choice,
    query_choices,
    query_int,
    query_list,
    query_require_known,
    query_text,
    text_invisible_characters,
)


@pytest.mark.parametrize(
    ("raw", "value"), [("0", 0), ("7", 7), ("0042", 42), (str(MAX_INT), MAX_INT)]
)
def test_ascii_integers_within_range_are_read(raw: str, value: int) -> None:
    assert parse_int(raw) == value


@pytest.mark.parametrize(
    "raw",
    [
        "",
        " 3",
        "3 ",
        "+3",
        "-1",
        "1_0",
        "3.0",
        "٣",  # ARABIC-INDIC DIGIT THREE: int() reads it
        "³",  # SUPERSCRIPT THREE: isdigit() says yes, int() refuses
        "²",
        "99999999999999999999",  # 20 digits: SQLite cannot compare it (OverflowError)
        str(MAX_INT + 1),
        "1\x00",
    ],
)
def test_anything_but_bounded_ascii_digits_is_not_an_integer(raw: str) -> None:
    assert parse_int(raw) is None


def test_integer_bounds_are_checked() -> None:
    assert parse_int("5", minimum=1, maximum=5) == 5
    assert parse_int("0", minimum=1) is None
    assert parse_int("6", maximum=5) is None


def test_an_integer_parameter_out_of_range_is_a_400_naming_it() -> None:
    with pytest.raises(ValidationError) as refused:
        query_int(QueryDict("rowsPerPage=1001"), "rowsPerPage", minimum=1, maximum=1000)
    assert "rowsPerPage" in refused.value.detail  # type: ignore[operator]
    assert query_int(QueryDict(""), "page") is None


def test_list_values_are_split_on_commas_and_repeated_keys() -> None:
    params = QueryDict("libraryId=L1,L2&libraryId=L3")
    assert query_list(params, "libraryId") == ["L1", "L2", "L3"]


@pytest.mark.parametrize(
    "query",
    [
        "libraryId=a%00",  # NUL: Postgres refuses it in text (a 500 before)
        "libraryId=a%1Fb",
        "libraryId=a%C2%85",  # NEL, a C1 control
        "libraryId=",  # blank: 400, not "no filter"
        "libraryId=A,,B",
        "libraryId=" + "x" * 256,
    ],
)
def test_bad_list_values_are_a_400_naming_the_parameter(query: str) -> None:
    with pytest.raises(ValidationError) as refused:
        query_list(QueryDict(query), "libraryId")
    assert list(refused.value.detail) == ["libraryId"]  # type: ignore[call-overload]


def test_a_list_value_must_match_its_pattern() -> None:
    pattern = re.compile(r"^[A-Z][0-9]+$")
    assert query_list(QueryDict("libraryId=L1"), "libraryId", pattern=pattern) == ["L1"]
    with pytest.raises(ValidationError):
        query_list(QueryDict("libraryId=L1%0A"), "libraryId", pattern=pattern)
    with pytest.raises(ValidationError):
        query_list(QueryDict("libraryId=l1"), "libraryId", pattern=pattern)


def test_a_list_has_at_most_max_list_values() -> None:
    many = ",".join(f"L{i}" for i in range(MAX_LIST_VALUES + 1))
    with pytest.raises(ValidationError):
        query_list(QueryDict(f"libraryId={many}"), "libraryId")


def test_blank_or_unknown_choices_are_a_400() -> None:
    allowed = ["RUNNING", "FAILED"]
    assert query_choices(QueryDict("status=failed"), "status", allowed) == ["FAILED"]
    for query in ("status=", "status=DONE"):
        with pytest.raises(ValidationError):
            query_choices(QueryDict(query), "status", allowed)
    with pytest.raises(ValidationError):
        query_choices(QueryDict("dataType=FASTQ"), "dataType", ["fastq"], case_sensitive=True)
    assert query_choice(QueryDict(""), "format", ["html", "pdf"], default="html") == "html"
    with pytest.raises(ValidationError):
        query_choice(QueryDict("format="), "format", ["html", "pdf"], default="html")


def test_blank_text_and_booleans_are_a_400() -> None:
    assert query_text(QueryDict(""), "destination") == ""
    for call in (
        lambda: query_text(QueryDict("destination="), "destination"),
        lambda: query_text(QueryDict("destination=s3%3A%2F%2Fb%2F%00"), "destination"),
        lambda: query_bool(QueryDict("enabled="), "enabled"),
        lambda: query_bool(QueryDict("enabled=maybe"), "enabled"),
    ):
        with pytest.raises(ValidationError):
            call()


def test_unknown_query_keys_are_a_400_naming_them() -> None:
    query_require_known(QueryDict("page=1&status=X"), {"page", "status"})
    with pytest.raises(ValidationError) as refused:
        query_require_known(QueryDict("page=1&expirySeconds=-1&bogus=1"), {"page"})
    message = str(refused.value.detail)
    assert "'bogus'" in message
    assert "'expirySeconds'" in message


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("s3://bucket/report\u202egnp.exe", ["U+202E"]),  # RIGHT-TO-LEFT OVERRIDE
        ("zero\u200bwidth", ["U+200B"]),
        ("tag\U000e0041", ["U+E0041"]),  # a TAG character, beyond the BMP
        ("line\nbreak", ["U+000A"]),
        ("plain ascii / ünïcödé", []),
    ],
)
def test_control_and_format_characters_are_found(text: str, found: list[str]) -> None:
    assert text_invisible_characters(text) == found


def test_the_documented_class_names_the_format_characters_of_the_bmp() -> None:
    invisible = re.compile(f"[{INVISIBLE_CLASS}]")
    for character in ("\u202e", "\u200b", "\ufeff", "\u00ad", "\x00", "\x85"):
        assert invisible.search(character), f"U+{ord(character):04X}"
    assert not invisible.search("aé/ 😀")
