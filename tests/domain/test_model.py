"""The domain's own rules, without any storage: the small core of the pyramid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import PreconditionFailed, ValidationFailed
from domain.model import (
    EMAIL_MAX,
    MAX_ID,
    NAME_MAX,
    TEXT_MAX,
    EmployeeDraft,
    ManagerDraft,
    Precondition,
    check_precondition,
    email_problem,
    field_errors,
    fold,
    new_employee,
    normalize_employee,
    normalize_manager,
    revise,
)

ASTRAL = "\U0001f600"  # one code point, two UTF-16 units, four UTF-8 bytes


def failed_fields(draft: EmployeeDraft) -> set[str]:
    with pytest.raises(ValidationFailed) as caught:
        normalize_employee(draft)
    return {error.field for error in caught.value.errors}


def employee(**fields: object) -> EmployeeDraft:
    values: dict[str, object] = {"name": "Ada", "email": "ada@example.com"}
    return EmployeeDraft(**{**values, **fields})  # type: ignore[arg-type]


def email_of_length(length: int) -> str:
    domain = "@example.com"
    return "a" * (length - len(domain)) + domain


# Names.


def test_surrounding_whitespace_is_trimmed_from_a_name() -> None:
    assert normalize_employee(employee(name="  Ada Lovelace \t\n")).name == (
        "Ada Lovelace"
    )


def test_a_name_of_exactly_the_limit_in_code_points_is_accepted() -> None:
    name = ASTRAL * NAME_MAX
    assert normalize_employee(employee(name=name)).name == name


def test_a_name_one_code_point_over_the_limit_is_rejected() -> None:
    assert failed_fields(employee(name="x" * (NAME_MAX + 1))) == {"name"}


def test_the_name_limit_applies_after_trimming() -> None:
    name = "   " + "x" * NAME_MAX + "   "
    assert normalize_employee(employee(name=name)).name == "x" * NAME_MAX


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_a_name_that_is_empty_after_trimming_is_rejected(name: str) -> None:
    assert failed_fields(employee(name=name)) == {"name"}


@pytest.mark.parametrize("char", ["\x00", "\n", "\x1b", "\x7f", "\x85", "\ud800"])
def test_control_characters_inside_a_name_are_rejected(char: str) -> None:
    assert failed_fields(employee(name=f"Ada{char}Lovelace")) == {"name"}


def test_a_manager_name_obeys_the_same_rules() -> None:
    assert normalize_manager(ManagerDraft(" Grace ", "g@example.com")).name == "Grace"
    with pytest.raises(ValidationFailed):
        normalize_manager(ManagerDraft(" ", "g@example.com"))


# Emails.


@pytest.mark.parametrize(
    "email",
    [
        "ada@example.com",
        "a.b+tag@mail.example.co.uk",
        "x@a.b",
        "d\u00e9j\u00e0@exemple.fr",
    ],
)
def test_well_formed_emails_are_accepted(email: str) -> None:
    assert email_problem(email) is None


@pytest.mark.parametrize(
    "email",
    [
        "",
        "ada",
        "ada.example.com",
        "@example.com",
        "ada@",
        "ada@example",
        "ada@@example.com",
        "ada@b@example.com",
        "ada@example..com",
        "ada@.example.com",
        "ada@example.com.",
        "ada lovelace@example.com",
        " ada@example.com",
        "ada@example.com\n",
        "ada\u00a0@example.com",
        "ada\x00@example.com",
    ],
)
def test_malformed_emails_are_rejected(email: str) -> None:
    assert email_problem(email) is not None
    assert failed_fields(employee(email=email)) == {"email"}


def test_an_email_of_exactly_254_characters_is_accepted() -> None:
    email = email_of_length(EMAIL_MAX)
    assert len(email) == EMAIL_MAX
    assert normalize_employee(employee(email=email)).email == email


def test_an_email_of_255_characters_is_rejected() -> None:
    assert failed_fields(employee(email=email_of_length(EMAIL_MAX + 1))) == {"email"}


def test_an_email_is_stored_lower_cased() -> None:
    draft = normalize_employee(employee(email="Ada.Lovelace@Example.COM"))
    assert draft.email == "ada.lovelace@example.com"
    manager = normalize_manager(ManagerDraft("Grace", "GRACE@Example.com"))
    assert manager.email == "grace@example.com"


# Title and department.


@pytest.mark.parametrize("field", ["title", "department"])
def test_title_and_department_accept_exactly_100_characters(field: str) -> None:
    draft = normalize_employee(employee(**{field: ASTRAL * TEXT_MAX}))
    assert getattr(draft, field) == ASTRAL * TEXT_MAX


@pytest.mark.parametrize("field", ["title", "department"])
def test_title_and_department_reject_101_characters(field: str) -> None:
    assert failed_fields(employee(**{field: "x" * (TEXT_MAX + 1)})) == {field}


@pytest.mark.parametrize("field", ["title", "department"])
def test_title_and_department_reject_control_characters(field: str) -> None:
    assert failed_fields(employee(**{field: "R\x00D"})) == {field}


def test_a_manager_department_over_the_limit_is_rejected() -> None:
    with pytest.raises(ValidationFailed) as caught:
        normalize_manager(ManagerDraft("Grace", "g@example.com", "x" * 101))
    assert [error.field for error in caught.value.errors] == ["department"]


def test_absent_optional_fields_stay_absent() -> None:
    draft = normalize_employee(employee())
    assert (draft.title, draft.department, draft.manager_id) == (None, None, None)


def test_every_offending_field_is_named_at_once() -> None:
    draft = employee(
        name=" ", email="nope", title="t" * 101, department="d\n", manager_id=0
    )
    assert failed_fields(draft) == {
        "name",
        "email",
        "title",
        "department",
        "manager_id",
    }


@pytest.mark.parametrize("manager_id", [0, -1, MAX_ID + 1])
def test_a_manager_id_outside_the_64_bit_positive_range_is_rejected(
    manager_id: int,
) -> None:
    assert failed_fields(employee(manager_id=manager_id)) == {"manager_id"}


def test_the_largest_64_bit_manager_id_passes_the_field_rules() -> None:
    assert normalize_employee(employee(manager_id=MAX_ID)).manager_id == MAX_ID


# Preconditions.


def test_a_precondition_listing_the_current_version_passes() -> None:
    Precondition(versions=frozenset({2, 3})).check(3)


def test_a_precondition_listing_other_versions_fails() -> None:
    with pytest.raises(PreconditionFailed):
        Precondition(versions=frozenset({2})).check(3)


def test_a_precondition_listing_nothing_fails() -> None:
    with pytest.raises(PreconditionFailed):
        Precondition().check(1)


def test_a_wildcard_precondition_passes_for_any_version() -> None:
    for version in (1, 7, 2**31 - 1):
        Precondition(any_version=True).check(version)


def test_no_precondition_means_no_check() -> None:
    check_precondition(None, 42)
    with pytest.raises(PreconditionFailed):
        check_precondition(Precondition(versions=frozenset({41})), 42)


# Case folding for search.


def test_fold_lets_strasse_find_strasse_with_sharp_s() -> None:
    assert fold("STRASSE") in fold("Straße")
    assert fold("straße") == fold("STRASSE")


def test_fold_treats_final_sigma_like_sigma() -> None:
    assert fold("ΣΊΣΥΦΟΣ") == fold("σίσυφος")


def test_fold_keeps_percent_and_underscore_as_they_are() -> None:
    assert fold("50%_OFF") == "50%_off"


# Versions.


def test_a_new_record_starts_at_version_1_created_and_updated_now() -> None:
    now = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    record = new_employee(normalize_employee(employee()), now)
    assert (record.version, record.created_at, record.updated_at) == (1, now, now)


def test_revising_a_record_bumps_its_version_and_updated_at_only() -> None:
    then = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    later = then + timedelta(seconds=5)
    record = new_employee(normalize_employee(employee()), then)
    revised = revise(record, employee(name="Ada L."), later)
    assert (revised.name, revised.version) == ("Ada L.", 2)
    assert (revised.created_at, revised.updated_at) == (then, later)


@pytest.mark.parametrize("char", ["\u00ad", "\u200b", "\ue000", "\u0378"])
def test_format_private_and_unassigned_characters_are_the_same_in_every_field(
    char: str,
) -> None:
    """Only control characters (Cc) and lone surrogates are refused, in every
    text field alike: soft hyphen, zero-width space, private use, unassigned."""
    assert email_problem(f"ada{char}@example.com") is None
    values = {"name": f"Ada{char}", "title": f"T{char}", "department": f"D{char}"}
    assert field_errors(values) == []
    assert email_problem("ada\x85@example.com") is not None  # NEL is Cc
    assert field_errors({"name": "Ada\x85"}) != []


def test_tokens_in_a_text_are_masked_keeping_their_prefix() -> None:
    from domain.api_keys import mask_tokens

    token = "ema_0123abcd_" + "s3cr3t-_" * 5 + "xyz"
    line = f'"Authorization Bearer {token}" rid={token[:30]} other ema_text'
    masked = mask_tokens(line)
    assert "s3cr3t" not in masked
    assert masked.count("ema_0123abcd_…") == 2
    assert masked.endswith("other ema_text")
    assert mask_tokens("no token here") == "no token here"
