"""The resident's dashboard body, cached per resident and language, served only while nothing it shows has changed.

One cache entry per resident and language holds the body with the version and generation it was rendered for.
The version is derived from the database, not from remembering to invalidate: `dashboard_state` reads everything of
the resident's that the page depends on in one query (the resident's own row: name, terms version, joined date; the
Balance row: points, lifetime points, chain head and floor, tier, updated_at; the active scheme; the number and the
newest of the resident's badges). Every writer of those already changes one of them: an award, a reversal or an
appeal (`ledger_append` moves `last_seq`), an ingest batch (the same, in SQL), the nightly ageing (`points`,
`updated_at`), a re-tier (`tier_id`), a scheme switch (the active scheme), a badge (count and newest id), the
retention purge (`chain_floor_seq`), a terms change (the resident's row); a language switch reads the other entry.
So a stale body is never served after a change, whatever the cache backend, even a per-process one.

What no resident's row records is the wording of the shared rows the body names: a department's name under each
of the latest entries, a behaviour's, a badge's, a tier's. Saving or deleting any of those (the office's screens or
the admin) bumps a global generation kept in the cache (`dashboard_cache_connect`). With a shared cache (Redis in
production) that is immediate everywhere; with a per-process cache, other processes see a rename within
`DASHBOARD_TTL`. The templates' own text and the compiled translations are part of the version, so a deploy that
changes either never serves a body rendered by the previous one. A resident who leaves takes their entries along.

Nothing in the body is relative to the time of the request ("Earned <date>", "Member since <date>" are absolute
dates in the site's zone), so a cached body stays right until one of the above changes.
"""

import hashlib
import secrets
from contextlib import suppress
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.conf import settings
from django.core.cache import cache as default_cache
from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save
from django.template.loader import get_template
from django.utils.translation import get_language

from citizenpoints.models import (
    Badge,
    Balance,
    Behaviour,
    CatalogueVersion,
    Category,
    DataSource,
    Resident,
    ResidentBadge,
    Tier,
    TierScheme,
    User,
)
from citizenpoints.signals import resident_left
from citizenpoints.sql import execute_prepared

DASHBOARD_TTL = 60 * 60  # seconds; bounds how long a rename reaches a process that has its own cache
BODY_TEMPLATES = ("citizenpoints/includes/dashboard_body.html", "citizenpoints/includes/entry.html")
GENERATION_KEY = "dashboard:generation"


@dataclass(frozen=True)
class DashboardState:
    """The resident's id and every value of theirs the dashboard's body depends on (see the module's notes)."""

    resident_id: int
    values: tuple


def dashboard_state(*, user: User) -> DashboardState | None:
    """The user's resident (None if they have not joined) and the values the body's key is made of. One query,
    prepared once per PostgreSQL connection (its subqueries cost more to plan than to run).

    Hand-written SQL: the ORM spent longer building this statement (correlated subqueries) than PostgreSQL spent
    running it, and it runs on every visit to the dashboard. The header's questions (unread notices, partner staff)
    were answered with the user row (citizenpoints.auth_backends).
    """
    if not user.is_authenticated:
        return None
    resident, balance = Resident._meta.db_table, Balance._meta.db_table
    scheme, held = TierScheme._meta.db_table, ResidentBadge._meta.db_table
    with connection.cursor() as cursor:
        execute_prepared(
            cursor,
            f"""SELECT r.id, r.given_name, r.terms_version, r.joined_at,
                       b.points, b.lifetime_points, b.last_seq, b.chain_floor_seq, b.tier_id, b.updated_at,
                       (SELECT s.id FROM {scheme} s WHERE s.is_active LIMIT 1),
                       (SELECT count(*) FROM {held} h WHERE h.resident_id = r.id),
                       (SELECT max(h.id) FROM {held} h WHERE h.resident_id = r.id)
                FROM {resident} r LEFT JOIN {balance} b ON b.resident_id = r.id
                WHERE r.user_id = %s
                LIMIT 1""",
            [user.pk],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return DashboardState(resident_id=row[0], values=tuple(row))


def _code_version() -> str:
    """The body's templates and the compiled translations: a deploy that changes them changes every version. Read
    once per process, except with DEBUG, where templates change under the running server."""
    return _code_digest() if settings.DEBUG else _code_digest_once()


@cache
def _code_digest_once() -> str:
    return _code_digest()


def _code_digest() -> str:
    digest = hashlib.sha256()
    for name in BODY_TEMPLATES:
        digest.update(get_template(name).template.source.encode())
    for locale_dir in map(Path, settings.LOCALE_PATHS):
        for compiled in sorted(locale_dir.glob("*/LC_MESSAGES/django.mo")):
            digest.update(compiled.read_bytes())
    return digest.hexdigest()[:16]


def dashboard_generation() -> int:
    """The global generation; if the cache has lost it, a new one that no body was ever stored under."""
    generation = default_cache.get(GENERATION_KEY)
    if generation is None:
        default_cache.add(GENERATION_KEY, secrets.randbits(48), timeout=None)  # not a clock: it may stand still
        generation = default_cache.get(GENERATION_KEY)
    return generation


def dashboard_generation_bump() -> None:
    """After the current transaction commits: every cached dashboard body is stale (renames of shared rows)."""

    def bump():
        with suppress(ValueError):  # lost: the next reader starts a new one
            default_cache.incr(GENERATION_KEY)

    transaction.on_commit(bump)


# Shared rows whose wording (or numbers: a tier's threshold, a scheme's base) the body shows.
SHOWN_SHARED_MODELS = (DataSource, Behaviour, Category, CatalogueVersion, Badge, Tier, TierScheme)


def _shared_row_changed(sender, **kwargs) -> None:
    dashboard_generation_bump()


def dashboard_cache_connect() -> None:
    """Called once from the app's ready(): renames of shared rows make every cached body stale; a resident who
    leaves takes theirs along."""
    resident_left.connect(_forget_on_leaving, dispatch_uid="citizenpoints.dashboard_cache.resident_left")
    for model in SHOWN_SHARED_MODELS:
        post_save.connect(_shared_row_changed, sender=model, dispatch_uid=f"dashboard_cache_{model.__name__}_save")
        post_delete.connect(_shared_row_changed, sender=model, dispatch_uid=f"dashboard_cache_{model.__name__}_del")


def _body_key(resident_id: int, language: str) -> str:
    return f"dashboard:{resident_id}:{language}"


def dashboard_version(state: DashboardState) -> str:
    """Everything the body shows, digested: the resident's values, the templates and translations, the settings."""
    parts = (_code_version(), settings.CITYPOINTS_SCORING_WINDOW_MONTHS)
    return hashlib.sha256(repr(parts + state.values).encode()).hexdigest()[:32]


def dashboard_body(state: DashboardState, render) -> str:
    """The cached body for the resident in the request's language, or `render()`'s, stored for the next request.

    One entry per resident and language (overwritten when anything changes, deleted when the resident leaves),
    holding the version and the generation it was rendered for; one round trip to the cache when it is there.
    """
    key = _body_key(state.resident_id, get_language())
    version = dashboard_version(state)
    found = default_cache.get_many([GENERATION_KEY, key])
    generation = found.get(GENERATION_KEY)
    if generation is None:
        generation = dashboard_generation()
    stored = found.get(key)
    if stored is not None and stored[0] == version and stored[1] == generation:
        return stored[2]
    body = render()
    default_cache.set(key, (version, generation, body), timeout=DASHBOARD_TTL)
    return body


def _forget_on_leaving(sender, resident, **kwargs) -> None:
    """A resident who leaves: their cached bodies (name, points, badges) go at once, not at the end of the TTL."""
    keys = [_body_key(resident.pk, language) for language, _name in settings.LANGUAGES]
    transaction.on_commit(lambda: default_cache.delete_many(keys))
