"""A local fake of Skolverket's Provisioning API (push), following ``research/transfer-methods.md`` §8.

A real HTTPS server on 127.0.0.1 (random port, own thread) with the fake nutid's PKI. Every call needs a
bearer JWT signed by the fake auth server whose ``requested_access`` holds type ``provisioning-api`` with
the fake's ``location`` as one exact entry (else ``403`` with a LogEntry array, id ``5002``). Writes are
asynchronous as at Skolverket: ``202`` with ``jobId`` and ``Location``; the job's entries stay ``Pending``
for ``delay`` seconds, then each object is judged alone. References are judged against what earlier,
*finished* jobs stored, so a Duty sent before its Person's job finished is an ``Error`` -- the order rule
the client must follow. It is built on the standard library only, never on the DNP code it tests.

Knobs (plain attributes, change them at any time):

* ``delay`` (seconds a job stays ``Pending``), ``max_bytes`` (``413`` above), ``rate`` (write and status
  calls per any 1-second window, per organisation; ``429`` above, ``None`` for no limit);
* ``script``: a list of faults for the next calls, consumed one per matching call: ``503`` (``5022``),
  ``"hang"`` (no answer until ``stop()`` or ``release()``), ``429`` (one forced rate refusal),
  ``413``; ``script_paths`` limits which paths consume them (substring match, default all writes);
* ``temporary_errors``: ``{entity_id: n}`` -- the next ``n`` judgements of that object are ``TemporaryError``;
* ``refuse``: ``{entity_id: (code, attributeName, message)}`` -- that object is an ``Error``;
* ``pending_forever``: jobs never finish.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
import traceback
import unicodedata
import uuid
from collections import deque
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs
from urllib.parse import urlsplit

RESOURCES = {"persons": "Person", "duties": "Duty", "groups": "Group", "activities": "Activity"}
DUTY_ROLES = {
    "Rektor",
    "Lärare",
    "Förskollärare",
    "Barnskötare",
    "Bibliotekarie",
    "Lärarassistent",
    "Fritidspedagog",
    "Annan personal",
    "Studie- och yrkesvägledare",
    "Förstelärare",
    "Kurator",
    "Skolsköterska",
    "Skolläkare",
    "Skolpsykolog",
    "Speciallärare/specialpedagog",
    "Skoladministratör",
    "Övrig arbetsledning",
}
SCHOOL_TYPES = {"GR", "SP", "SAM", "GY", "VUXGY"}
# Skolverket publishes no code for "group member not in provtjänsten" (v1.3.2); the fake's choice.
MISSING_MEMBER_CODE = "3090"
MISSING_REFERENCE_CODE = "3091"


def now_stamp() -> str:
    """RFC 3339 time, as in ``meta`` and ``timeOfOccurance``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def log_entry(
    code: str, status: int, message_type: str, message: str, severity: str = "Error", **extra
) -> dict:
    """A LogEntry as in the spec (including the misspelt ``timeOfOccurance``)."""
    entry = {"id": code, "statusCode": status, "messageType": message_type, "message": message}
    entry.update({key: value for key, value in extra.items() if value is not None})
    entry.update(severityLevel=severity, timeOfOccurance=now_stamp())
    return entry


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", (text or "").lower())
    return "".join(char for char in text if char.isalnum())


@dataclass
class Call:
    """One request the fake received (after authentication)."""

    at: float
    method: str
    path: str
    status: int
    size: int
    ids: list[str]
    organisation: str


@dataclass
class Job:
    """One bulk job: its entries and when they finish."""

    id: str
    resource: str
    organisation: str
    action: str  # upsert | update | delete
    ready_at: float
    entries: list[dict]
    writes: list[tuple[str, str, dict | None]] = field(default_factory=list)  # (resource, id, object|None)
    applied: bool = False


class FakeProvisioningApi:
    """Skolverket's Provisioning API on loopback. Use as a context manager or start()/stop()."""

    def __init__(self, auth, *, location: str | None = None) -> None:
        self.auth = auth  # the FakeAuthServer whose keys sign valid tokens
        self._location = location
        self.delay = 0.2
        self.max_bytes = 200_000
        self.rate: int | None = 5
        self.script: list = []
        self.script_paths: tuple[str, ...] = ("/bulk",)
        self.temporary_errors: dict[str, int] = {}
        self.refuse: dict[str, tuple[str, str, str]] = {}
        self.warn: dict[str, tuple[str, str, str]] = {}  # id -> (code, attributeName, message): a Warning
        self.pending_forever = False
        self.calls: list[Call] = []
        self.refused_tokens = 0
        self.alive_calls = 0  # authenticated GET /alive (the settings page's connection test)
        self.hung = 0  # calls held by a scripted "hang"
        self.errors: list[str] = []
        self.jobs: dict[str, Job] = {}
        # organisation -> resource -> id -> stored object
        self.store: dict[str, dict[str, dict[str, dict]]] = {}
        self._windows: dict[str, deque] = {}
        self._lock = threading.RLock()
        self._release = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeProvisioningApi:
        """Listen on a random 127.0.0.1 port in a background thread."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.auth.pki.server_pem))
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        """Release hanging requests and shut down."""
        self._release.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def release(self) -> None:
        """Let hanging requests go (they get no answer) and stop hanging new ones."""
        self._release.set()

    def __enter__(self) -> FakeProvisioningApi:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The API base, e.g. https://127.0.0.1:41234/provtjanst/provisioning/v1."""
        assert self._httpd is not None, "start() the fake first"
        return f"https://127.0.0.1:{self._httpd.server_address[1]}/provtjanst/provisioning/v1"

    @property
    def location(self) -> str:
        """The location a token must name (default: the base URL)."""
        return self._location or self.url

    # -- inspection ---------------------------------------------------------------------------

    def stored(self, resource: str, organisation: str | None = None) -> dict[str, dict]:
        """Objects stored for a resource type (``persons`` …) of one organisation (or the only one)."""
        with self._lock:
            self._settle()
            if organisation is None:
                organisation = next(iter(self.store), "")
            return dict(self.store.get(organisation, {}).get(resource, {}))

    def writes(self, resource: str | None = None) -> list[Call]:
        """Accepted (202) bulk calls, optionally of one resource type."""
        return [
            c
            for c in self.calls
            if c.status == 202 and (resource is None or c.path.split("/")[0] == resource)
        ]

    # -- internals ----------------------------------------------------------------------------

    def _settle(self) -> None:
        """Apply finished jobs' writes in the order the jobs were made."""
        now = time.monotonic()
        for job in self.jobs.values():
            if job.applied or self.pending_forever or job.ready_at > now:
                continue
            tables = self.store.setdefault(job.organisation, {})
            for resource, entity_id, obj in job.writes:
                table = tables.setdefault(resource, {})
                if obj is None:
                    table.pop(entity_id, None)
                else:
                    table[entity_id] = obj
            job.applied = True

    def _rate_ok(self, organisation: str) -> tuple[bool, dict[str, str]]:
        window = self._windows.setdefault(organisation, deque())
        now = time.monotonic()
        while window and window[0] <= now - 1.0:
            window.popleft()
        limit = self.rate or 10**6
        if len(window) >= limit:
            reset = max(0.0, window[0] + 1.0 - now)
            return False, _rate_headers(limit, 0, reset)
        window.append(now)
        reset = max(0.0, window[0] + 1.0 - now)
        return True, _rate_headers(limit, limit - len(window), reset)

    def _judge(self, job: Job, tables: dict, items: list) -> None:
        """Judge each object alone against what finished jobs stored; record the entries and writes."""
        resource = job.resource
        kind = RESOURCES[resource]
        for item in items:
            entity_id = (
                item if job.action == "delete" else (item.get("id") if isinstance(item, dict) else None)
            )
            entity_id = str(entity_id)
            errors: list[dict] = []
            warnings: list[dict] = []
            stored_obj = None
            temporary = self.temporary_errors.get(entity_id, 0)
            if temporary:
                self.temporary_errors[entity_id] = temporary - 1
                job.entries.append(
                    _entry(
                        entity_id,
                        "TemporaryError",
                        503,
                        errors=[
                            log_entry(
                                "5022",
                                503,
                                "Okänt fel",
                                "Tillfälligt fel, försök igen senare.",
                                resourceType=kind,
                                resourceId=entity_id,
                            )
                        ],
                    )
                )
                continue
            if entity_id in self.refuse:
                code, attribute, message = self.refuse[entity_id]
                errors.append(
                    log_entry(
                        code,
                        400,
                        "Ogiltigt värde",
                        message,
                        resourceType=kind,
                        resourceId=entity_id,
                        attributeName=attribute,
                    )
                )
            if entity_id in self.warn:
                code, attribute, message = self.warn[entity_id]
                warnings.append(
                    log_entry(
                        code,
                        400,
                        "Bristfälligt värde",
                        message,
                        "Warning",
                        resourceType=kind,
                        resourceId=entity_id,
                        attributeName=attribute,
                    )
                )
            if job.action == "delete":
                if not errors:
                    job.writes.append((resource, entity_id, None))
                job.entries.append(
                    _entry(entity_id, "Error" if errors else "Success", 400 if errors else 204, errors=errors)
                )
                continue
            exists = entity_id in tables.get(resource, {})
            if job.action == "update" and not exists:
                errors.append(
                    log_entry(
                        "4001",
                        404,
                        "Ogiltigt värde",
                        "Resursen finns inte.",
                        resourceType=kind,
                        resourceId=entity_id,
                    )
                )
            elif job.action == "create" and exists:
                errors.append(
                    log_entry(
                        "3001",
                        400,
                        "Ogiltigt värde",
                        "Resursen finns redan.",
                        resourceType=kind,
                        resourceId=entity_id,
                    )
                )
            if not errors:
                stored_obj, problems, notes = self._validate(kind, entity_id, item, tables)
                errors += problems
                warnings += notes
            if errors:
                job.entries.append(_entry(entity_id, "Error", 400, errors=errors))
                continue
            job.writes.append((resource, entity_id, stored_obj))
            status = "Warning" if warnings else "Success"
            job.entries.append(
                _entry(
                    entity_id,
                    status,
                    200 if exists else 201,
                    warnings=warnings,
                    location=None if exists else f"{self.url}/{resource}/{entity_id}",
                )
            )

    def _validate(self, kind: str, entity_id: str, obj: dict, tables: dict) -> tuple[dict, list, list]:
        errors: list[dict] = []
        warnings: list[dict] = []

        def bad(attribute: str, message: str, code: str = "3002") -> None:
            errors.append(
                log_entry(
                    code,
                    400,
                    "Ogiltigt värde",
                    message,
                    resourceType=kind,
                    resourceId=entity_id,
                    attributeName=attribute,
                )
            )

        def known(resource: str, ref: object) -> bool:
            return isinstance(ref, dict) and str(ref.get("id")) in tables.get(resource, {})

        stored = {key: value for key, value in obj.items() if key not in ("meta", "provisioningStatus")}
        if kind == "Person":
            for name in ("givenName", "familyName", "civicNo"):
                if not obj.get(name):
                    bad(name, f"{name} saknas.")
            eppns = obj.get("eduPersonPrincipalNames")
            if not isinstance(eppns, list) or len(eppns) != 1:
                bad("eduPersonPrincipalNames", "Exakt en EPPN krävs.")
            elif len(_fold(obj.get("familyName", ""))) >= 3 and _fold(obj["familyName"])[:3] in _fold(
                eppns[0].split("@")[0]
            ):
                warnings.append(
                    log_entry(
                        "3047",
                        400,
                        "Bristfälligt värde",
                        "EPPN innehåller namnbokstäver.",
                        "Warning",
                        resourceType="Person",
                        resourceId=entity_id,
                        attributeName="eppn",
                        attributeValue=eppns[0],
                    )
                )
            civic = (obj.get("civicNo") or {}).get("value", "")
            if civic and not (
                len(civic) == 12 and (civic.isdigit() or (civic[:8].isdigit() and civic[8] == "T"))
            ):
                bad("civicNo.value", "Ogiltigt personnummer.")
        elif kind == "Duty":
            if not known("persons", obj.get("person")):
                bad("person.id", "Personen finns inte i provtjänsten.", MISSING_REFERENCE_CODE)
            if obj.get("dutyRole") not in DUTY_ROLES:
                bad("dutyRole", "Okänd roll.")
        elif kind == "Group":
            if obj.get("groupType") not in ("Klass", "Undervisning"):
                bad("groupType", "Endast Klass och Undervisning tas emot.")
            if obj.get("schoolType") not in SCHOOL_TYPES:
                bad("schoolType", "Okänd skolform.")
            kept = []
            for membership in obj.get("groupMemberships") or []:
                person = (membership or {}).get("person")
                if known("persons", person):
                    kept.append(membership)
                else:
                    warnings.append(
                        log_entry(
                            MISSING_MEMBER_CODE,
                            400,
                            "Bristfälligt värde",
                            "Gruppmedlemmen finns inte i provtjänsten och lades inte till.",
                            "Warning",
                            resourceType="Group",
                            resourceId=entity_id,
                            attributeName="groupMemberships.person.id",
                            attributeValue=str((person or {}).get("id")),
                        )
                    )
            stored["groupMemberships"] = kept
        elif kind == "Activity":
            if obj.get("activityType") != "Undervisning":
                bad("activityType", "Endast Undervisning tas emot.")
            groups = obj.get("groups") or []
            if not groups:
                bad("groups", "Minst en grupp krävs.")
            for group in groups:
                if not known("groups", group):
                    bad("groups.id", "Gruppen finns inte i provtjänsten.", MISSING_REFERENCE_CODE)
            for teacher in obj.get("teachers") or []:
                if not known("duties", (teacher or {}).get("duty")):
                    bad(
                        "teachers.duty.id",
                        "Tjänstgöringen finns inte i provtjänsten.",
                        MISSING_REFERENCE_CODE,
                    )
            if not isinstance(obj.get("parentActivity"), dict):
                bad("parentActivity", "parentActivity saknas.")
        stored["meta"] = {"created": now_stamp(), "modified": now_stamp()}
        return stored, errors, warnings

    def _forbidden(self, authorization: str | None) -> str | None:
        """The organisation of a valid token, or None."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        try:
            claims = self.auth.decode(authorization.removeprefix("Bearer "))
        except Exception:  # noqa: BLE001 - any broken token is simply refused
            return None
        if not isinstance(claims.get("exp"), int | float) or claims["exp"] <= time.time():
            return None
        for access in claims.get("requested_access") or []:
            if (
                isinstance(access, dict)
                and access.get("type") == "provisioning-api"
                and self.location in (access.get("locations") or [])
            ):
                return str(claims.get("organization_id") or "")
        return None


def _entry(
    entity_id: str, status: str, code: int, errors=(), warnings=(), location: str | None = None
) -> dict:
    response: dict = {"status": status, "statusCode": code}
    if location and status in ("Success", "Warning"):
        response["location"] = location
    if errors:
        response["errors"] = list(errors)
    if warnings:
        response["warnings"] = list(warnings)
    return {"id": entity_id, "response": response, "meta": {"created": now_stamp(), "modified": now_stamp()}}


def _rate_headers(limit: int, remaining: int, reset: float) -> dict[str, str]:
    return {
        "x-ratelimit-limit": str(limit),
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-reset": f"{reset:.3f}",
    }


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeProvisioningApi

    def handle_error(self, request, client_address) -> None:
        self.fake.errors.append(traceback.format_exc())


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        split = urlsplit(self.path)
        prefix = urlsplit(fake.url).path
        if not split.path.startswith(prefix + "/"):
            return self._send(404, [log_entry("4001", 404, "Ogiltigt värde", "Okänd adress.")])
        path = split.path[len(prefix) + 1 :]
        query = parse_qs(split.query)
        organisation = fake._forbidden(self.headers.get("Authorization"))
        if organisation is None:
            with fake._lock:
                fake.refused_tokens += 1
            return self._send(403, [log_entry("5002", 403, "Behörighet saknas", "Ogiltig JWT bearer-token.")])
        if path == "alive":
            with fake._lock:
                fake.alive_calls += 1
            return self._send(200, {"status": "UP"})
        parts = path.split("/")
        if parts[0] not in RESOURCES:
            return self._send(404, [log_entry("4001", 404, "Ogiltigt värde", "Okänd resurs.")])
        fault = None
        with fake._lock:
            if fake.script and any(p in self.path for p in fake.script_paths):
                fault = fake.script.pop(0)
        if fault == "hang":
            with fake._lock:
                fake.hung += 1
            fake._release.wait(120)
            self.close_connection = True
            return None
        if fault == 503:
            return self._send(503, [log_entry("5022", 503, "Okänt fel", "Tjänsten är inte tillgänglig.")])
        with fake._lock:
            allowed, headers = fake._rate_ok(organisation)
            if fault == 429:
                allowed, headers = False, _rate_headers(fake.rate or 5, 0, 0.2)
            if not allowed:
                fake.calls.append(Call(time.time(), method, path, 429, len(raw), [], organisation))
                return self._send(
                    429, [log_entry("5021", 429, "Teknisk begränsning", "För många anrop.")], headers
                )
            if fault == 413 or len(raw) > fake.max_bytes:
                fake.calls.append(Call(time.time(), method, path, 413, len(raw), [], organisation))
                return self._send(
                    413, [log_entry("5020", 413, "Teknisk begränsning", "För stort anrop.")], headers
                )
            fake._settle()
            status, body, extra = self._route(fake, method, parts, query, raw, organisation)
            ids = body.get("_ids", []) if isinstance(body, dict) else []
            if isinstance(body, dict):
                body.pop("_ids", None)
            fake.calls.append(Call(time.time(), method, path, status, len(raw), ids, organisation))
        return self._send(status, body, {**headers, **extra})

    def _route(self, fake, method, parts, query, raw, organisation):
        resource = parts[0]
        tables = fake.store.setdefault(organisation, {})
        if len(parts) >= 2 and parts[1] == "bulk" and (len(parts) == 2 or parts[2] == "delete"):
            delete = len(parts) == 3
            if len(parts) > 3 or (delete and method != "POST") or method not in ("POST", "PUT"):
                return 405, [log_entry("5004", 405, "Okänt fel", "Metoden stöds inte.")], {}
            flag = (query.get("updateIfExists") or ["false"])[0]
            if flag not in ("true", "false") or (method == "PUT" and "updateIfExists" in query):
                return (
                    400,
                    [
                        log_entry(
                            "2025",
                            400,
                            "Ogiltigt format",
                            "updateIfExists ska vara true eller false.",
                            parameterName="updateIfExists",
                            parameterValue=flag,
                        )
                    ],
                    {},
                )
            try:
                body = json.loads(raw)
                items = body["data"]
                if not isinstance(items, list):
                    raise TypeError
                if delete and not all(isinstance(i, str) and _is_uuid(i) for i in items):
                    raise TypeError
                if not delete and not all(isinstance(i, dict) for i in items):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                return (
                    400,
                    [log_entry("2000", 400, "Ogiltigt format", 'Kroppen ska vara {"data": [...]}.')],
                    {},
                )
            action = (
                "delete"
                if delete
                else ("update" if method == "PUT" else ("upsert" if flag == "true" else "create"))
            )
            job = Job(str(uuid.uuid4()), resource, organisation, action, time.monotonic() + fake.delay, [])
            fake._judge(job, tables, items)
            fake.jobs[job.id] = job
            location = f"{fake.url}/{resource}/bulk/jobs/{job.id}"
            ids = [i if delete else str(i.get("id")) for i in items]
            return (
                202,
                {"jobId": job.id, "message": "Resultatet kommer asynkront, se Location.", "_ids": ids},
                {"Location": location},
            )
        if len(parts) in (4, 5) and parts[1:3] == ["bulk", "jobs"] and method == "GET":
            if not _is_uuid(parts[3]):
                return 400, [log_entry("2011", 400, "Ogiltigt format", "Id ska vara ett UUID.")], {}
            job = fake.jobs.get(parts[3])
            if job is None or job.resource != resource or job.organisation != organisation:
                return 404, [log_entry("4001", 404, "Ogiltigt värde", "Jobbet finns inte.")], {}
            if len(parts) == 5:
                if parts[4] != "isCompleted":
                    return 404, [log_entry("4001", 404, "Ogiltigt värde", "Okänd adress.")], {}
                return 200, job.applied, {}
            if job.applied:
                entries = job.entries
            else:
                entries = [
                    {"id": e["id"], "response": {"status": "Pending"}, "meta": e["meta"]} for e in job.entries
                ]
            if (query.get("showOnlyError") or ["false"])[0] == "true":
                entries = [e for e in entries if e["response"]["status"] == "Error"]
            return 200, {"jobId": job.id, "responses": entries}, {}
        if len(parts) == 2 and method == "GET":
            obj = tables.get(resource, {}).get(parts[1])
            if obj is None:
                return 404, [log_entry("4001", 404, "Ogiltigt värde", "Resursen finns inte.")], {}
            return 200, obj, {}
        return 404, [log_entry("4001", 404, "Ogiltigt värde", "Okänd adress.")], {}

    def _send(self, status: int, obj: object, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(obj, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True


def token_claims(token: str) -> dict:
    """Claims of a JWT without checking it (tests look at what was asked for)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
