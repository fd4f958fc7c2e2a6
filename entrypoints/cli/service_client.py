"""The running service, over HTTP, for `employee-api import` and `export`:
its API key from the environment (never an argument, which shell history
and `ps` would show), and the waits a well-behaved client makes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from settings import client_token

KEY_VARIABLE = "EMPLOYEE_API_KEY"
ATTEMPTS = 8  # for one request: 429, 503, a connection that fails
PAUSE_CAP_SECONDS = 30.0


class ServiceError(Exception):
    """The service refused the request or could not be reached: the message
    says which, and what was answered."""

    def __init__(self, message: str, answer: httpx.Response | None = None) -> None:
        super().__init__(message)
        self.answer = answer


class ServiceClient:
    def __init__(
        self,
        url: str,
        key_variable: str = KEY_VARIABLE,
        *,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        say: Callable[[str], None] = lambda text: None,
    ) -> None:
        """say: where to tell the user about a wait (a 429, a retry)."""
        token = client_token(key_variable)
        if not token:
            raise ServiceError(
                f"no API key: set {key_variable} to a key's token (make one with "
                "`employee-api keys create --name import --scopes read,write`)"
            )
        self._http = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )
        self._sleep = sleep
        self._say = say

    def close(self) -> None:
        self._http.close()

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The answer, once it is neither a 429, a 503 nor a failed connection
        (each waited out, up to ATTEMPTS tries); ServiceError for 401 and 403,
        and when the tries run out. Other answers are the caller's to read."""
        pause = 1.0
        for attempt in range(1, ATTEMPTS + 1):
            last: httpx.Response | None = None
            try:
                answer = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                why = f"could not reach the service ({exc.__class__.__name__}: {exc})"
            else:
                if answer.status_code in (401, 403):
                    raise ServiceError(_refused(answer), answer)
                if answer.status_code not in (429, 503):
                    return answer
                last, why = answer, f"{answer.status_code} {_detail(answer)}"
                pause = _retry_after(answer, pause)
            if attempt == ATTEMPTS:
                raise ServiceError(f"gave up after {ATTEMPTS} tries: {why}", last)
            self._say(f"{why}; trying again in {pause:.0f} s")
            self._sleep(pause)
            pause = min(pause * 2, PAUSE_CAP_SECONDS)
        raise AssertionError("not reached")


def _retry_after(answer: httpx.Response, fallback: float) -> float:
    value = answer.headers.get("Retry-After", "")
    return (
        float(min(int(value), PAUSE_CAP_SECONDS * 4)) if value.isdigit() else fallback
    )


def _detail(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:200]
    return str(body.get("detail", "")) if isinstance(body, dict) else str(body)[:200]


def _refused(answer: httpx.Response) -> str:
    if answer.status_code == 401:
        return f"the service refused the API key (401): {_detail(answer)}"
    return f"the API key lacks a scope this needs (403): {_detail(answer)}"


def problem_errors(answer: httpx.Response) -> list[tuple[str, str]]:
    """The (field, message) pairs of a problem+json answer's errors."""
    try:
        body = answer.json()
    except ValueError:
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    return [(e.get("field", ""), e.get("message", "")) for e in errors or []]
