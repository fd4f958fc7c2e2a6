"""A bounded load that records every request and its answer, and the journal
check afterwards: nothing acknowledged lost, nothing refused applied.

Each load thread owns a manager and its employees, so its history of each
record is sequential and the state every acknowledged write answered with is
the state the record must end in. A write that got no answer (a killed
worker, a client timeout) may or may not have been applied: both outcomes
are accepted for it, and the next acknowledged write settles the record."""

from __future__ import annotations

import http.client
import json
import random
import select
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from entrypoints.http.problems import OUTCOME_UNKNOWN

FIELDS = ("name", "email", "title", "manager_id", "version")


@dataclass
class Entry:
    method: str
    path: str
    status: int | None  # None: no answer
    seconds: float
    retry_after: bool
    began: float


@dataclass
class Record:
    """What one employee may be now: the state of the last acknowledged write,
    plus what an unanswered write since might have made of it (None: gone)."""

    states: list[dict[str, Any] | None]
    acked_version: int

    def settle(self, state: dict[str, Any] | None) -> None:
        self.states = [state]
        if state is not None:
            self.acked_version = state["version"]

    def maybe(self, state: dict[str, Any] | None) -> None:
        self.states.append(state)


@dataclass
class Journal:
    entries: list[Entry] = field(default_factory=list)
    records: dict[int, Record] = field(default_factory=dict)
    stale_reads: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def summary(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for entry in self.entries:
            counts[
                "no answer" if entry.status is None else f"{entry.status // 100}xx"
            ] += 1
        return counts

    def worst_seconds(self) -> float:
        return max((e.seconds for e in self.entries), default=0.0)


class Client:
    """One load thread's connections, one kept-alive connection per instance."""

    def __init__(self, ports: list[int], journal: Journal, rng: random.Random) -> None:
        self._ports = ports
        self._journal = journal
        self._rng = rng
        self._by_port: dict[int, http.client.HTTPConnection] = {}

    def call(self, method: str, path: str, body: Any = None) -> tuple[int | None, Any]:
        port = self._rng.choice(self._ports)
        connection = self._by_port.get(port)
        if connection is None or _dropped(connection):
            # As HTTP clients do: a kept-alive connection the server has
            # closed meanwhile (its keep-alive timeout) is replaced first.
            if connection is not None:
                connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        self._by_port[port] = connection
        headers = {"Content-Type": "application/json"} if body is not None else {}
        data = json.dumps(body) if body is not None else None
        began = time.monotonic()
        status: int | None = None
        document: Any = None
        retry_after = False
        try:
            connection.request(method, path, body=data, headers=headers)
            answer = connection.getresponse()
            raw = answer.read()
            status = answer.status
            retry_after = answer.getheader("Retry-After") is not None
            document = json.loads(raw) if raw else None
            if answer.will_close:
                connection.close()
        except (OSError, http.client.HTTPException):
            connection.close()
        entry = Entry(
            method, path, status, time.monotonic() - began, retry_after, began
        )
        with self._journal.lock:
            self._journal.entries.append(entry)
        if status == 503 and _type_of(document) == OUTCOME_UNKNOWN:
            # Like no answer: the link froze while the write's COMMIT (or lone
            # statement) or its reply was on its way, and the database runs
            # what reaches it once the link thaws. A plain 503 is "not done".
            return None, document
        return status, document


def _type_of(document: Any) -> str | None:
    return document.get("type") if isinstance(document, dict) else None


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """Whether an idle kept-alive connection was closed by the server: its
    socket reads as ready (an EOF) while no answer is expected."""
    sock = connection.sock
    if sock is None:
        return False
    ready, _, _ = select.select([sock], [], [], 0)
    return bool(ready)


def state_of(document: dict[str, Any]) -> dict[str, Any]:
    return {name: document[name] for name in FIELDS}


class LoadThread(threading.Thread):
    """Reads 60%, writes 40%, on this thread's own manager and employees."""

    def __init__(
        self, number: int, ports: list[int], journal: Journal, stop: threading.Event
    ) -> None:
        super().__init__(daemon=True)
        self._n = number
        self._rng = random.Random(number)
        self._client = Client(ports, journal, self._rng)
        self._journal = journal
        self._halt = stop
        self._mine: list[int] = []
        self._manager = 0
        self._made = 0

    def set_up(self, employees: int = 4) -> None:
        """Before any fault: a manager and a few employees of its own."""
        status, manager = self._client.call(
            "POST",
            "/v1/managers",
            {"name": f"M{self._n}", "email": f"m{self._n}@load.test"},
        )
        assert status == 201, (status, manager)
        self._manager = manager["id"]
        for _ in range(employees):
            self._create(required=True)

    def _create(self, required: bool = False) -> None:
        self._made += 1
        email = f"e{self._n}-{self._made}@load.test"
        status, body = self._client.call(
            "POST", "/v1/employees", {"name": "E", "email": email}
        )
        if status == 201:
            self._mine.append(body["id"])
            with self._journal.lock:
                self._journal.records[body["id"]] = Record([state_of(body)], 1)
        else:
            assert not required, (status, body)
            self._judge("POST", status, body)

    def run(self) -> None:
        # (share, action): reads 60%, writes 40%, over every endpoint.
        mix = [
            (0.43, self._read),
            (0.05, lambda e: self._get(f"/v1/managers/{self._manager}/employees")),
            (0.04, lambda e: self._get(f"/v1/employees?manager_id={self._manager}")),
            (0.04, lambda e: self._get(f"/v1/managers/{self._manager}")),
            (0.02, lambda e: self._get("/v1/managers?limit=5")),
            (0.02, lambda e: self._patch_manager()),
            (0.18, self._patch),
            (0.06, self._put),
            (0.11, self._join_or_leave),
            (0.03, self._remove),
        ]
        shares, actions = zip(*mix, strict=True)
        while not self._halt.is_set():
            if not self._mine or self._rng.random() < 0.02:
                self._create()
                continue
            action = self._rng.choices(actions, weights=shares)[0]
            action(self._rng.choice(self._mine))

    def _get(self, path: str) -> None:
        status, body = self._client.call("GET", path)
        if status not in (200, 503, None):
            self._journal.unexpected.append(f"GET {path}: {status} {body}")

    def _patch_manager(self) -> None:
        body = {"department": f"D{self._rng.randrange(10)}"}
        status, answer = self._client.call(
            "PATCH", f"/v1/managers/{self._manager}", body
        )
        if status != 200:
            self._judge("PATCH manager", status, answer)

    def _patch(self, employee: int) -> None:
        title = f"T{self._rng.randrange(10**6)}"
        record = self._journal.records[employee]
        self._write(record, "PATCH", f"/v1/employees/{employee}", {"title": title})

    def _put(self, employee: int) -> None:
        record = self._journal.records[employee]
        email = (record.states[0] or {}).get("email", "x@load.test")
        body = {"name": "E", "email": email, "title": "full"}
        self._write(record, "PUT", f"/v1/employees/{employee}", body)

    def _read(self, employee: int) -> None:
        path = f"/v1/employees/{employee}"
        record = self._journal.records[employee]
        floor = record.acked_version
        status, body = self._client.call("GET", path)
        if status == 200 and body["version"] < floor:
            self._journal.stale_reads.append(f"{path}: v{body['version']} < v{floor}")
        elif status not in (200, 503, None):
            self._journal.unexpected.append(f"GET {path}: {status} {body}")

    def _write(
        self, record: Record, method: str, path: str, body: dict[str, Any]
    ) -> None:
        before = record.states[-1]
        status, answer = self._client.call(method, path, body)
        if status == 200:
            record.settle(state_of(answer))
        elif status is None or (status >= 500 and status != 503):
            if before is not None:  # it may have been applied
                record.maybe(
                    {
                        **before,
                        **{k: v for k, v in body.items() if k in FIELDS},
                        "version": before["version"] + 1,
                    }
                )
        else:
            self._judge(method, status, answer)

    def _join_or_leave(self, employee: int) -> None:
        record = self._journal.records[employee]
        if len(record.states) > 1 and not self._settle_by_reading(employee, record):
            return
        current = record.states[-1]
        if current is None:
            return
        team = f"/v1/managers/{self._manager}/employees/{employee}"
        joining = current["manager_id"] is None
        status, answer = self._client.call("PUT" if joining else "DELETE", team)
        after = {
            **current,
            "manager_id": self._manager if joining else None,
            "version": current["version"] + 1,
        }
        if status == 200 and joining:
            record.settle(state_of(answer))
        elif status == 204 and not joining:
            record.settle(after)
        elif status is None or (status >= 500 and status != 503):
            record.maybe(after)
        else:
            self._judge("join" if joining else "leave", status, answer)

    def _settle_by_reading(self, employee: int, record: Record) -> bool:
        """After a write that got no answer, the record is what a read says
        (this thread is its only writer), as a careful client would check."""
        status, body = self._client.call("GET", f"/v1/employees/{employee}")
        if status == 200:
            record.settle(state_of(body))
        elif status == 404:
            record.settle(None)
            self._mine.remove(employee)
        return status == 200

    def _remove(self, employee: int) -> None:
        if len(self._mine) <= 2:
            return
        record = self._journal.records[employee]
        status, answer = self._client.call("DELETE", f"/v1/employees/{employee}")
        if status == 204:
            record.settle(None)
            self._mine.remove(employee)
        elif status is None or (status >= 500 and status != 503):
            record.maybe(None)
            self._mine.remove(employee)  # its fate is settled at the check
        else:
            self._judge("DELETE", status, answer)

    def _judge(self, what: str, status: int | None, answer: Any) -> None:
        """A refused write: only 503 is expected of a fault. No answer is an
        unknown outcome, not a refusal: the journal check settles it."""
        if status not in (503, None):
            self._journal.unexpected.append(f"{what}: {status} {answer}")


def check(journal: Journal, rows: list[tuple[Any, ...]], orphans: int) -> list[str]:
    """Every record against the database: mismatches, described."""
    stored = {row[0]: dict(zip(FIELDS, row[1:], strict=True)) for row in rows}
    problems = [f"{orphans} employees point at a missing manager"] if orphans else []
    for employee, record in journal.records.items():
        now = stored.get(employee)
        if now not in record.states:
            problems.append(
                f"employee {employee}: stored {now}, expected one of {record.states}"
            )
    return problems


EMPLOYEE_ROWS = "SELECT id, name, email, title, manager_id, version FROM employee"
ORPHANS = (
    "SELECT count(*) FROM employee e LEFT JOIN manager m ON e.manager_id = m.id"
    " WHERE e.manager_id IS NOT NULL AND m.id IS NULL"
)
