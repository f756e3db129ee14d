"""Seeded short task notes and paraphrases that change the words, not just their order.

A note is four slots (action, problem, component, system), each with three wordings
that mean the same thing. The stored note uses one wording per slot in one sentence
form; its paraphrase uses another sentence form and, for each slot with probability
``reword``, another wording. With ``reword=1`` a paraphrase shares ~10% of its content
words with its note (``word_overlap``); with 0.5, about half.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

ACTIONS = [
    ["fix", "repair", "resolve"],
    ["add", "introduce", "implement"],
    ["remove", "delete", "drop"],
    ["speed up", "optimize", "make faster"],
    ["document", "write docs for", "describe"],
    ["test", "write tests for", "cover with tests"],
    ["refactor", "restructure", "clean up"],
    ["debug", "investigate", "troubleshoot"],
    ["upgrade", "bump", "update"],
    ["secure", "harden", "lock down"],
]
PROBLEMS = [
    ["race condition", "concurrency bug", "threading issue"],
    ["memory leak", "growing heap", "unreleased memory"],
    ["timeout", "request that hangs", "slow response"],
    ["crash on startup", "boot failure", "launch error"],
    ["wrong totals", "incorrect sums", "bad arithmetic"],
    ["missing validation", "unchecked input", "no input checks"],
    ["duplicate records", "repeated rows", "double entries"],
    ["encoding error", "garbled characters", "unicode problem"],
    ["stale cache", "outdated cached data", "cache not invalidated"],
    ["broken pagination", "paging bug", "wrong page results"],
    ["flaky test", "intermittent test failure", "unstable test"],
    ["permission error", "access denied bug", "authorization failure"],
    ["retry logic", "retry handling", "retries"],
    ["logging", "log output", "log statements"],
    ["rate limiting", "throttling", "request quotas"],
    ["date parsing", "timestamp parsing", "datetime handling"],
    ["error messages", "failure messages", "error text"],
    ["config loading", "settings loading", "configuration reading"],
    ["database migration", "schema change", "db migration"],
    ["dependency version", "library version", "package version"],
]
COMPONENTS = [
    ["payment webhook", "checkout callback", "billing hook"],
    ["login page", "sign-in screen", "authentication form"],
    ["search API", "query endpoint", "lookup service"],
    ["CSV export", "spreadsheet download", "tabular export"],
    ["image upload", "picture uploader", "photo upload"],
    ["email sender", "mail dispatcher", "notification mailer"],
    ["job scheduler", "cron runner", "task timer"],
    ["user profile", "account settings", "member profile"],
    ["shopping cart", "basket", "order cart"],
    ["invoice generator", "bill builder", "invoice creator"],
    ["report dashboard", "analytics view", "metrics dashboard"],
    ["CLI parser", "command-line argument parser", "flag parser"],
    ["websocket server", "realtime socket service", "live connection server"],
    ["file watcher", "filesystem monitor", "change watcher"],
    ["audit log", "activity trail", "audit history"],
    ["inventory sync", "stock synchronisation", "warehouse sync"],
    ["password reset", "credential recovery", "reset-password flow"],
    ["PDF renderer", "document printer", "pdf generator"],
    ["GraphQL resolver", "graph query handler", "graphql field resolver"],
    ["feature flags", "toggle service", "feature switches"],
    ["map tiles", "tile server", "map rendering"],
    ["chat widget", "support chat", "messaging widget"],
    ["backup job", "snapshot task", "backup routine"],
    ["video transcoder", "media encoder", "video converter"],
    ["translation files", "locale strings", "i18n catalogs"],
]
SYSTEMS = [
    ["in the mobile app", "for the phone app", "on the iOS and Android client"],
    ["of the admin panel", "in the back office", "for the staff console"],
    ["in the public API", "for external API users", "of the open REST interface"],
    ["on the storefront", "in the online shop", "for the e-commerce site"],
    ["in the data pipeline", "of the ETL jobs", "for the ingestion flow"],
    ["of the partner portal", "for reseller accounts", "in the affiliate site"],
    ["in staging", "on the pre-production environment", "for the test environment"],
    ["for enterprise tenants", "for large customers", "on business plans"],
]
FORMS = [
    "{action} the {problem} in the {component} {system}",
    "{component} {system}: {action} {problem}",
    "need to {action} {problem} affecting the {component} {system}",
    "{action} {problem} ({component}, {system})",
]


@dataclass(frozen=True)
class Note:
    """A stored note and a paraphrase of it (a query that should find it)."""

    text: str
    paraphrase: str


def _pick(options: list[str], rng: random.Random, reword: float) -> tuple[str, str]:
    first, second = rng.sample(options, 2)
    return first, second if rng.random() < reword else first


def notes(n: int, seed: int, reword: float = 1.0) -> list[Note]:
    """``n`` distinct notes (distinct slot combinations) with one paraphrase each.

    ``reword``: the chance that a slot is worded differently in the paraphrase (1.0: every
    slot; 0.5: about half of them); the sentence form always changes.
    """
    rng = random.Random(seed)
    combos: set[tuple[int, int, int, int]] = set()
    total = len(ACTIONS) * len(PROBLEMS) * len(COMPONENTS) * len(SYSTEMS)
    if n > total:
        raise ValueError(f"at most {total} distinct notes")
    out = []
    while len(out) < n:
        key = (rng.randrange(len(ACTIONS)), rng.randrange(len(PROBLEMS)),
               rng.randrange(len(COMPONENTS)), rng.randrange(len(SYSTEMS)))  # fmt: skip
        if key in combos:
            continue
        combos.add(key)
        slots = [ACTIONS[key[0]], PROBLEMS[key[1]], COMPONENTS[key[2]], SYSTEMS[key[3]]]
        stored, para = zip(*(_pick(s, rng, reword) for s in slots), strict=True)
        f1, f2 = rng.sample(FORMS, 2)
        names = ("action", "problem", "component", "system")
        text = f1.format(**dict(zip(names, stored, strict=True)))
        paraphrase = f2.format(**dict(zip(names, para, strict=True)))
        out.append(Note(text[0].upper() + text[1:], paraphrase))
    return out


TICKET_KEYS = ["PAY", "WEB", "OPS", "CORE", "API", "DATA", "INFRA", "MOB", "SEC", "BILL",
               "PLAT", "UX"]  # fmt: skip
ID_FORMS = ["{text}\nTicket: {ident}", "{text}\nTracked as {ident}", "{ident}\n{text}"]
ID_QUERY_FORMS = ["{ident}: {query}", "{query} ({ident})", "{query}, see {ident}"]
ID_REWORD = 0.5


@dataclass(frozen=True)
class IdNote:
    """A stored note with an identifier line, a paraphrase that keeps the identifier and
    the same paraphrase without it."""

    text: str
    paraphrase: str
    dropped: str
    ident: str


def id_notes(n: int, seed: int, reword: float = ID_REWORD) -> list[IdNote]:
    """``n`` notes of ``notes(n, seed, reword)``, each with a unique ticket identifier."""
    rng = random.Random(seed * 7919 + 1)
    numbers = rng.sample(range(10_000, 100_000), n)
    out = []
    for note, number in zip(notes(n, seed, reword), numbers, strict=True):
        ident = f"{rng.choice(TICKET_KEYS)}-{number}"
        text = rng.choice(ID_FORMS).format(text=note.text, ident=ident)
        kept = rng.choice(ID_QUERY_FORMS).format(query=note.paraphrase, ident=ident)
        out.append(IdNote(text, kept, note.paraphrase, ident))
    return out


_WORD = re.compile(r"[a-z0-9]+")
_STOP = {"the", "in", "of", "for", "on", "to", "a", "and", "need", "with", "affecting"}


def word_overlap(a: str, b: str) -> float:
    """Share of b's content words that also occur in a (0: all words changed)."""
    wa = set(_WORD.findall(a.lower())) - _STOP
    wb = set(_WORD.findall(b.lower())) - _STOP
    return len(wa & wb) / len(wb) if wb else 0.0
