"""Employees and managers: create, read, replace, patch, delete and list."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic

from domain import model
from domain.errors import (
    ConcurrentUpdate,
    DuplicateEmail,
    DuplicateEmails,
    FieldError,
    NotFound,
    ValidationFailed,
)
from domain.model import (
    D,
    F,
    Page,
    Precondition,
    R,
    check_precondition,
)
from domain.ports import (
    Clock,
    Lock,
    Repository,
    UnitOfWork,
    UnitOfWorkFactory,
)


class RecordService(Generic[R, D, F]):
    """Create, read, replace, patch, delete and list one kind of record."""

    not_found: Callable[[int], NotFound]

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    # Hooks for the concrete services.
    def _repo(self, uow: UnitOfWork) -> Repository[R, F]:
        raise NotImplementedError

    def _normalize(self, draft: D) -> D:
        raise NotImplementedError

    def _draft_of(self, record: R) -> D:
        raise NotImplementedError

    def _new(self, draft: D, uow: UnitOfWork) -> R:
        raise NotImplementedError

    def _references(self, draft: D, current: R | None) -> bool:
        """Whether the draft points at something _check_references must find."""
        return False

    def _check_references(self, uow: UnitOfWork, draft: D, current: R | None) -> None:
        """Raise when the draft points at something that does not exist."""

    def _direct(self, values: Mapping[str, Any]) -> bool:
        """Whether changing these fields needs no reference looked up."""
        return True

    def _check_deletable(self, uow: UnitOfWork, record: R) -> None:
        """Raise when the record may not be deleted now."""

    def _missing_references(
        self, uow: UnitOfWork, drafts: Sequence[D]
    ) -> list[FieldError]:
        """What the drafts point at that does not exist, as items[i].field;
        what does exist stays until the unit of work ends."""
        return []

    # Use cases.
    def get(self, record_id: int) -> R:
        """The record, or NotFound."""
        with self._uow(write=False) as uow:
            return self._require(uow, record_id, Lock.NONE)

    def list(self, where: F, after_id: int, limit: int) -> Page[R]:
        """One page of records matching where, ordered by id."""
        with self._uow(write=False) as uow:
            rows = self._repo(uow).list(where, after_id, limit + 1)
        return Page(list(rows[:limit]), has_more=len(rows) > limit)

    def create(self, draft: D) -> R:
        """Store a new record with version 1."""
        draft = self._normalize(draft)
        # The store refuses a taken email (DuplicateEmail) in the insert
        # itself: no race, no round trip to look first. Then an insert with no
        # reference to check is the whole unit, and needs no transaction.
        alone = not self._references(draft, None)
        with self._uow(alone=alone) as uow:
            self._check_references(uow, draft, None)
            record = self._repo(uow).add(self._new(draft, uow))
            uow.commit()
        return record

    def create_many(self, drafts: Sequence[D]) -> Sequence[R]:
        """Store every draft as a new record, in order, or none of them.
        ValidationFailed names items[i].field for every invalid item (an
        unknown reference included); DuplicateEmails names items[i].email
        for every email taken already or shared within the batch."""
        if not drafts:
            return []
        normalized, errors = self.normalized_items(dict(enumerate(drafts)))
        if errors:
            raise ValidationFailed(list(errors))
        emails = [draft.email for draft in normalized]
        with self._uow() as uow:
            errors = self._missing_references(uow, normalized)
            if errors:
                raise ValidationFailed(errors)
            repo = self._repo(uow)
            _refuse_duplicates(emails, repo.emails_taken(set(emails)))
            try:
                records = repo.add_many([self._new(d, uow) for d in normalized])
            except DuplicateEmail:
                records = []  # taken meanwhile: named below, after the rollback
            else:
                uow.commit()
        if not records:
            with self._uow(write=False) as uow:
                _refuse_duplicates(emails, self._repo(uow).emails_taken(set(emails)))
            raise ConcurrentUpdate()
        return records

    def normalized_items(
        self, drafts: Mapping[int, D]
    ) -> tuple[Sequence[D], Sequence[FieldError]]:
        """The drafts (by their place in a batch) normalised, and every rule
        any of them breaks, as items[i].field."""
        normalized: list[D] = []
        errors: list[FieldError] = []
        for i, draft in drafts.items():
            try:
                normalized.append(self._normalize(draft))
            except ValidationFailed as exc:
                at = f"items[{i}]."
                errors += [FieldError(at + e.field, e.message) for e in exc.errors]
        return normalized, errors

    def replace(self, record_id: int, draft: D, precondition: Precondition | None) -> R:
        """Full replacement (PUT)."""
        return self._write(record_id, precondition, lambda _: draft)

    def patch(
        self,
        record_id: int,
        changes: Mapping[str, Any],
        precondition: Precondition | None,
    ) -> R:
        """Change only the given fields (merge patch)."""

        def merged(current: R) -> D:
            return dataclasses.replace(self._draft_of(current), **changes)

        values = model.normalized_fields(changes)
        if values and self._direct(values) and not model.field_errors(values):
            # Valid, with nothing to look up: one step in the store, no lock
            # held across this code. When it writes nothing, a plain read says
            # why: 404, 412 or no change (each true as of that read); or the
            # record moved in between, and the locked path decides.
            with self._uow(alone=True) as uow:
                now = self._clock.now()
                changed = self._repo(uow).change(record_id, values, precondition, now)
                uow.commit()
            if changed is not None:
                return changed
            current = self.get(record_id)
            check_precondition(precondition, current.version)
            if self._normalize(merged(current)) == self._draft_of(current):
                return current
        return self._write(record_id, precondition, merged)

    def delete(self, record_id: int, precondition: Precondition | None) -> None:
        """Remove the record."""
        with self._uow() as uow:
            current = self._require(uow, record_id, Lock.UPDATE)
            check_precondition(precondition, current.version)
            self._check_deletable(uow, current)
            self._repo(uow).delete(record_id)
            uow.commit()

    # Shared steps.
    def _write(
        self,
        record_id: int,
        precondition: Precondition | None,
        draft_for: Callable[[R], D],
    ) -> R:
        with self._uow() as uow:
            current = self._require(uow, record_id, Lock.UPDATE)
            check_precondition(precondition, current.version)
            draft = self._normalize(draft_for(current))
            if draft == self._draft_of(current):
                return current  # a write that changes nothing keeps its version
            self._check_references(uow, draft, current)
            updated = model.revise(current, draft, self._clock.now())
            self._repo(uow).update(updated, expected_version=current.version)
            uow.commit()
        return updated

    def _require(self, uow: UnitOfWork, record_id: int, lock: Lock) -> R:
        record = self._repo(uow).get(record_id, lock=lock)
        if record is None:
            raise self.not_found(record_id)
        return record


def _refuse_duplicates(emails: Sequence[str], taken: set[str]) -> None:
    """DuplicateEmails naming every item whose email is taken already or
    shared with another item."""
    holders: dict[str, list[int]] = {}
    for i, email in enumerate(emails):
        holders.setdefault(email, []).append(i)
    errors: list[FieldError] = []
    for i, email in enumerate(emails):
        if email in taken:
            errors.append(FieldError(f"items[{i}].email", "already in use"))
        elif len(holders[email]) > 1:
            others = ", ".join(f"items[{j}]" for j in holders[email] if j != i)
            errors.append(FieldError(f"items[{i}].email", f"also in {others}"))
    if errors:
        raise DuplicateEmails(errors)
