"""The in-memory store's shared state: its tables and its change feed."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Generic

from adapters.memory.api_keys import ApiKeyTable
from adapters.memory.changes import MemoryFeed
from domain.model import Employee, Manager, R


@dataclass
class Table(Generic[R]):
    kind: str
    rows: dict[int, R] = field(default_factory=dict)
    by_email: dict[str, int] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def put(self, record: R) -> None:
        self.rows[record.id] = record
        self.by_email[record.email] = record.id

    def remove(self, record: R) -> None:
        del self.rows[record.id]
        del self.by_email[record.email]


class MemoryStore:
    """The shared state every in-memory unit of work reads and changes."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.employees: Table[Employee] = Table("Employee")
        self.managers: Table[Manager] = Table("Manager")
        self.api_keys = ApiKeyTable()
        self.feed = MemoryFeed()
