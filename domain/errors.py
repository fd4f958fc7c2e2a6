"""One error hierarchy for the domain; the HTTP edge maps each class to a status."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""


class NotFound(DomainError):
    def __init__(self, kind: str, record_id: int) -> None:
        super().__init__(f"{kind} {record_id} does not exist.")
        self.kind = kind
        self.record_id = record_id


class EmployeeNotFound(NotFound):
    def __init__(self, employee_id: int) -> None:
        super().__init__("Employee", employee_id)


class ManagerNotFound(NotFound):
    def __init__(self, manager_id: int) -> None:
        super().__init__("Manager", manager_id)


class NotInTeam(NotFound):
    def __init__(self, manager_id: int, employee_id: int) -> None:
        DomainError.__init__(
            self, f"Employee {employee_id} is not in manager {manager_id}'s team."
        )
        self.kind = "Team membership"
        self.record_id = employee_id


class ApiKeyNotFound(NotFound):
    def __init__(self, name_or_prefix: str) -> None:
        message = f"No API key has the name or prefix {name_or_prefix!r}."
        DomainError.__init__(self, message)
        self.kind = "API key"
        self.record_id = 0


class Conflict(DomainError):
    """The request is valid but clashes with the current state."""


class DuplicateEmail(Conflict):
    def __init__(self, kind: str, email: str) -> None:
        super().__init__(f"Another {kind.lower()} already uses the email {email!r}.")


class DuplicateEmails(Conflict):
    """Emails of a batch that are taken already, or repeated within it."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(
            "Some emails of the batch are in use already or appear in it more than "
            "once; nothing was created."
        )
        self.errors = errors


class DuplicateKey(Conflict):
    def __init__(self, what: str) -> None:
        super().__init__(f"Another API key already has this {what}.")
        self.what = what


class AlreadyInAnotherTeam(Conflict):
    def __init__(self, employee_id: int, manager_id: int) -> None:
        super().__init__(
            f"Employee {employee_id} already reports to manager {manager_id}; "
            "leave that team first, or PATCH manager_id to move."
        )


class ManagerHasEmployees(Conflict):
    def __init__(self, manager_id: int) -> None:
        super().__init__(
            f"Manager {manager_id} still has employees; move or detach them first."
        )


class ConcurrentUpdate(Conflict):
    """Another transaction changed the record between our read and our write."""

    def __init__(self) -> None:
        super().__init__("The record was changed concurrently; retry the request.")


class ValidationFailed(DomainError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("Request body failed validation.")
        self.errors = errors


class PreconditionFailed(DomainError):
    def __init__(self) -> None:
        super().__init__("If-Match does not match the current ETag.")


class StorageUnavailable(DomainError):
    """The database did not answer; the request may be retried later."""

    def __init__(self) -> None:
        super().__init__("The database is unavailable; retry later.")


class OutcomeUnknown(StorageUnavailable):
    """A write went out and no answer came back: the database may have applied
    it, or may not. Read before retrying, or retry in a way that cannot apply
    twice (the same Idempotency-Key, If-Match)."""

    def __init__(self) -> None:
        DomainError.__init__(
            self,
            "The database did not confirm the write: it may or may not have been "
            "applied. Read the record before retrying, or retry with the same "
            "Idempotency-Key or If-Match.",
        )


class SetupRefused(Exception):
    """The store cannot be brought up to date as asked (a connection the
    database refuses, a migration lock another holds): the message says what
    refused it and what to do."""


class ChangesExpired(DomainError):
    """A change-feed position older than the retained history: the changes
    after it are gone, and the client must list the resources again."""

    def __init__(self) -> None:
        super().__init__(
            "This cursor points before the oldest retained change: changes after "
            "it are no longer kept. List the resources again, then follow the "
            "feed from GET /v1/changes/head."
        )
