"""The OpenAPI document's prose and its shared parameters and headers."""

from __future__ import annotations

from typing import Any

from domain.model import MAX_ID
from entrypoints.http.feed_wire import DEFAULT_LIMIT as FEED_DEFAULT_LIMIT
from entrypoints.http.feed_wire import MAX_CURSOR_LENGTH as FEED_CURSOR_LENGTH
from entrypoints.http.feed_wire import MAX_LIMIT as FEED_MAX_LIMIT
from entrypoints.http.pagination import (
    DEFAULT_LIMIT,
    MAX_CURSOR_LENGTH,
    MAX_FILTER_LENGTH,
    MAX_LIMIT,
)
from entrypoints.http.schemas import NO_CONTROL_PATTERN

CHOICES = """\
Employees, managers, and the teams that join them. Every `/v1` request needs
an API key (`Authorization: Bearer <key>`); errors are
`application/problem+json` (RFC 9457).

Where the contract leaves a choice open, this service does the following:

- Unknown or repeated query parameters are 422, like unknown body fields.
- Text fields and text filters refuse control characters (422); an email's
  domain needs at least one dot and no empty labels (`a@b.`, `a@.b` are 422).
- Path ids are ASCII digits, 1 to 2^63-1; `/v1/employees/01` is employee 1;
  anything else is 404.
- A body without `Content-Type` is read as JSON; `charset` and other
  parameters are ignored; chunked bodies are accepted and bounded like others.
- A 422 for a body's shape or types comes before a 412 for a stale
  `If-Match`; a 422 for a field rule (a blank name, say) comes after it, as
  does every 409. A missing record is 404 whatever `If-Match` says, and
  leaving a team the employee is not in is 404 before `If-Match` is looked at.
- `If-None-Match` compares weakly (RFC 9110), so `W/"1-2"` also gets 304.
- An entity tag sent without its quotes (`If-Match: 1-2`) is read as if quoted;
  an `If-Match` with no tag in it at all matches nothing (412).
- `HEAD` is answered on every `GET` route.
- A quota of N per window (GCRA): N requests at once (the (N+1)th of a burst
  is 429), then one more every window / N; `RateLimit-Remaining` is how many
  could be sent right now, `RateLimit-Reset` when all N could be again.
- An address that sends many API keys this service has not verified lately
  (a lookup each) gets 429 with `Retry-After` once it has used up its
  allowance of lookups (`AUTH_LOOKUPS`, 30 a minute by default); keys
  verified already are unaffected.
- While the limiter's Redis is down and the limiter fails open, responses
  carry no `RateLimit-*` headers (there is no count to report).
- A request without a valid key is counted against its address before it is
  refused, so a client over its limit gets 429 rather than 401.
- Limits and auth follow the route that matched: `//v1/employees` and
  `/%2Fv1/employees` are the same resource. A path that matches no route is
  404 for everyone; under a group's prefix it is counted in that group.
- `HEAD` needs the `read` scope, like GET; `OPTIONS`, like every other
  method, needs `write`.
- An `Idempotency-Key` reused with a different body is 422 even while the
  first request still runs; 4xx answers are kept and replayed like 2xx ones;
  when the idempotency store does not answer, a keyed POST is 503.
"""

STATUS_WORDS = {
    200: "OK.", 201: "Created.", 204: "Done; no body.",
    304: "Not modified: the client's copy (If-None-Match) is current.",
    400: "Not JSON in UTF-8, or a malformed header (Idempotency-Key).",
    401: "No valid API key.", 403: "The API key lacks this method's scope.",
    404: "No such resource.", 405: "Method not allowed here (see Allow).",
    409: "Conflicts with the current state (duplicate email, another team, "
         "a manager with employees, a request with this Idempotency-Key in progress).",
    410: "The cursor points before the oldest change kept: list the "
         "resources again, then follow the feed from its head.",
    412: "If-Match does not match the current ETag.",
    413: "Body larger than the configured maximum.",
    414: "Request line over 8190 bytes: the HTTP server's own plain answer, "
         "before the service sees the request.",
    415: "Body is not JSON.",
    422: "Well-formed but invalid; `errors` names each field or parameter.",
    429: "Rate limit exceeded; see Retry-After.",
    503: "A backend does not answer (or shutting down); see Retry-After. "
    "type tag:employee-api,2026:outcome-unknown: the write went out unanswered "
    "and may or may not have been applied; else it was not done.",
}  # fmt: skip

_TEXT_FILTER = {
    "type": "string",
    "maxLength": MAX_FILTER_LENGTH,
    "pattern": NO_CONTROL_PATTERN,
}
PARAMETERS: dict[str, Any] = {
    "limit": {"name": "limit", "in": "query", "schema": {
        "type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
        "default": DEFAULT_LIMIT}},
    "cursor": {"name": "cursor", "in": "query", "schema": {
        "type": "string", "maxLength": MAX_CURSOR_LENGTH},
               "description": "The previous page's next_cursor; empty: first page."},
    "after": {"name": "after", "in": "query", "schema": {
        "type": "string", "minLength": 1, "maxLength": FEED_CURSOR_LENGTH},
              "description": "A next_cursor, a seq or a head cursor of this "
              "feed; absent: from the oldest change kept."},
    "changes_limit": {"name": "limit", "in": "query", "schema": {
        "type": "integer", "minimum": 1, "maximum": FEED_MAX_LIMIT,
        "default": FEED_DEFAULT_LIMIT}},
    "resource": {"name": "resource", "in": "query", "schema": {
        "type": "string", "enum": ["employee", "manager"]},
                 "description": "Only this kind's changes."},
    "manager_id": {"name": "manager_id", "in": "query",
                   "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}},
    "department": {"name": "department", "in": "query", "schema": _TEXT_FILTER,
                   "description": "Exact, case-sensitive."},
    "q": {"name": "q", "in": "query", "schema": _TEXT_FILTER,
          "description": "Case-insensitive substring of name or email (Unicode "
          "case folding); % and _ are literal characters."},
    "If-Match": {"name": "If-Match", "in": "header", "schema": {"type": "string"},
                 "description": "Strong ETags, or *; weak tags never match; a "
                 "header with no tag in it matches nothing."},
    "If-None-Match": {"name": "If-None-Match", "in": "header",
                      "schema": {"type": "string"}},
    "Idempotency-Key": {"name": "Idempotency-Key", "in": "header", "schema": {
        "type": "string", "pattern": "^[\\x20-\\x7e]{1,255}$"},
        "description": "A retry with the same key, client and body within 24 h "
        "gets the first answer again (with Idempotent-Replayed: true)."},
    "X-Request-ID": {"name": "X-Request-ID", "in": "header",
        "schema": {"type": "string"},
        "description": "Any value: echoed when it is 1-128 visible ASCII "
        "characters, otherwise replaced by one the service makes."},
}  # fmt: skip


def _header(description: str, kind: str = "string") -> dict[str, Any]:
    return {"description": description, "schema": {"type": kind}}


HEADERS: dict[str, Any] = {
    "ETag": _header("Strong tag of the record's id and version."),
    "Location": _header("The new record's path."),
    "Link": _header('The next page: <path?query>; rel="next".'),
    "Idempotent-Replayed": _header("true on a replayed answer."),
    "RateLimit-Limit": _header("Requests allowed per window.", "integer"),
    "RateLimit-Remaining": _header("Requests that could be sent now.", "integer"),
    "RateLimit-Reset": _header("Seconds until the quota is whole.", "integer"),
    "RateLimit-Policy": _header('IETF draft, e.g. "employees";q=10;w=60.'),
    "RateLimit": _header('IETF draft, e.g. "employees";r=7;t=42.'),
    "Retry-After": _header("Seconds until a retry may succeed.", "integer"),
    "X-Request-ID": _header("The request's id, echoed or made."),
    "WWW-Authenticate": _header('Bearer realm="employee-api", with error= '
                                "when a key was sent but refused."),
}  # fmt: skip

# Operations' descriptions, where the contract left a choice.
FEED = (
    "Changes after the cursor `after` (absent: from the oldest kept), in feed "
    "order: each record's changes in version order, across every instance. "
    "`next_cursor` is never null: after a full page it is the last item's "
    "`seq`; when no more changes are readable it is the feed's end (which may "
    "be past the last item shown, for instance past changes of the other "
    "resource), so polling with it is always safe and skips nothing. Each "
    "item's `seq` is a cursor too. `at` is the record's `updated_at` for "
    "created and updated, and the time of the deletion for deleted. A "
    "change is readable once every transaction that began before it has "
    "ended: normally at once, at most the database statement timeout (5 s "
    "by default) behind. 410 when changes after `after` were pruned "
    "(CHANGES_RETENTION, 7 days by default): list the resources again. "
    "Rate-limit group `changes`."
)

BATCH = (
    "All or nothing (as Google AIP-233's batch create): 201 with the created "
    "records in request order, or nothing created. 1-1,000 items, each what "
    "a single POST accepts. Every failing item is named, as items[i].field: "
    "422 for invalid items (an unknown manager_id included; when items are "
    "invalid, emails are not checked yet), else 409 naming each "
    "items[i].email in use already or shared within the batch "
    "(case-insensitively). N items count as N requests of the group's quota, "
    "all or none: 429 with Retry-After saying when N will be available, 422 "
    "naming items when N exceeds the whole quota. Body limit "
    "BATCH_MAX_BODY_BYTES (1 MiB by default). Each created record is one "
    "change in the feed."
)
