import select
import time
from functools import cache, partial

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth import middleware as auth_middleware
from django.contrib.auth.models import Group
from django.db import connection, connections
from django.shortcuts import redirect
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _
from psycopg import pq

from citizenpoints.auth_backends import LEGACY_BACKENDS, account_facts, groups_give

# Paths a staff member must reach to set up two-factor authentication (or to leave).
MFA_EXEMPT_PREFIXES = ("/accounts/", "/static/", "/i18n/", "/healthz")


def groups_preload(user) -> None:
    """The user's groups once per request, for a user not loaded by `citizenpoints.auth_backends` (which reads them
    with the user row): `is_office_staff` is asked here, by the header and by pages, and each asking was a query.

    One hand-written statement instead of `prefetch_related_objects`, whose machinery cost about 1 ms of CPU per
    request against 0.3 ms for this. Should Django stop reading these attributes, `groups.all()` queries as it
    always did: slower, never wrong.
    """
    through = user._meta.get_field("groups").remote_field.through._meta
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT g.id, g.name FROM {Group._meta.db_table} g JOIN {through.db_table} ug ON ug.group_id = g.id "
            f"WHERE ug.{through.get_field('user').column} = %s",
            [user.pk],
        )
        groups_give(user, [Group(id=pk, name=name) for pk, name in cursor.fetchall()])


def _session_user(request):
    """Django's user of the session, once a session signed in through a backend that was since subclassed in
    `citizenpoints.auth_backends` names the subclass (Django signs out a session whose backend is not configured)."""
    backend = request.session.get(BACKEND_SESSION_KEY)
    if backend in LEGACY_BACKENDS:
        request.session[BACKEND_SESSION_KEY] = LEGACY_BACKENDS[backend]
    return auth_middleware.get_user(request)


async def _asession_user(request):
    backend = await request.session.aget(BACKEND_SESSION_KEY)
    if backend in LEGACY_BACKENDS:
        await request.session.aset(BACKEND_SESSION_KEY, LEGACY_BACKENDS[backend])
    return await auth_middleware.auser(request)


class AuthenticationMiddleware(auth_middleware.AuthenticationMiddleware):
    """Django's, but sessions signed in before `citizenpoints.auth_backends` stay signed in (see `_session_user`)."""

    def process_request(self, request):
        request.user = SimpleLazyObject(lambda: _session_user(request))
        request.auser = partial(_asession_user, request)


class StaffMFARequiredMiddleware:
    """Credit office staff use the site only after enrolling an authenticator app.

    allauth asks enrolled users for a code at every login; this closes the gap of a staff account that never
    enrolled. allauth ships no such hook, hence the middleware.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if not user.is_authenticated:
            return self.get_response(request)
        facts = account_facts(user)
        if facts is None and "groups" not in getattr(user, "_prefetched_objects_cache", ()):
            groups_preload(user)
        if (
            settings.CITYPOINTS_STAFF_MFA_REQUIRED
            and not request.path.startswith(MFA_EXEMPT_PREFIXES)
            and user.is_office_staff
            and not (facts.totp_enrolled if facts is not None else self._totp_enrolled(user))
        ):
            messages.warning(
                request,
                _("Staff accounts must use two-factor authentication. Please set up an authenticator app."),
            )
            return redirect("mfa_activate_totp")
        return self.get_response(request)

    @staticmethod
    def _totp_enrolled(user) -> bool:
        return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


TERMS_SEEN_SESSION_KEY = "citypoints_terms_ok"
# Where a resident who has not agreed to new terms may still go: sign out, read the terms, answer them, and use every
# right that does not need their agreement (report, export, access log, leaving).
TERMS_EXEMPT_PREFIXES = ("/accounts/", "/static/", "/media/", "/i18n/", "/healthz", "/terms/", "/api/", "/me/rights/")


class TermsConsentMiddleware:
    """A resident whose accepted terms are not the current version is asked to agree (or leave) before anything else.

    The answer is remembered in the session for the current version, so a request costs a query only until then.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            request.user.is_authenticated
            and not request.path.startswith(TERMS_EXEMPT_PREFIXES)
            and self._terms_pending(request)
        ):
            from django.urls import reverse
            from django.utils.http import urlencode

            return redirect(f"{reverse('rights_consent')}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)

    @staticmethod
    def _terms_pending(request) -> bool:
        from citizenpoints.selectors import resident_for_user
        from citizenpoints.services.residents import current_terms_version

        version = current_terms_version()
        if request.session.get(TERMS_SEEN_SESSION_KEY) == version:
            return False
        resident = resident_for_user(user=request.user)
        if resident is None or resident.terms_version == version:
            request.session[TERMS_SEEN_SESSION_KEY] = version
            return False
        return True


class AuditContextMiddleware:
    """Hand the client's address to audit_record without passing requests into services.

    Uses allauth's resolution of the client IP, which honours ALLAUTH_TRUSTED_PROXY_COUNT (X-Forwarded-For is
    only believed from proxies we run)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from citizenpoints.services.audit import request_ip

        token = request_ip.set(cache(partial(_client_ip, request)))
        try:
            return self.get_response(request)
        finally:
            request_ip.reset(token)


def _client_ip(request) -> str | None:
    from allauth.core.internal.httpkit import get_client_ip

    try:
        return get_client_ip(request)
    except Exception:  # a malformed header must not break the request; the row just has no IP
        return None


class ConnectionHealthMiddleware:
    """Spare a recently used database connection Django's health check, a `SELECT 1` round trip per request.

    With CONN_HEALTH_CHECKS, Django pings a persistent connection before the first query of every request, so that
    one closed since the last request is replaced instead of failing the request. This middleware (first in the
    stack) lets Django skip the ping only when the connection cannot have gone since it was last used:

    - a query went over it less than `RECENT_SECONDS` ago (stamped at the end of each request that sent one; a
      request that sent none proves nothing), far below any idle timeout a firewall or NAT applies (those drop a
      flow after minutes of silence, and only the next packet would find out);
    - nothing is waiting on its socket: a server that ends a session (restart, pg_terminate_backend,
      idle_session_timeout) sends an error and closes it, both of which make the socket readable;
    - libpq sees it open and idle (no transaction left open).

    Otherwise Django pings as always. Under load a connection serves a request every few milliseconds, so the ping
    is spared; an idle one is still pinged. PostgreSQL only (a pool checks its connections itself; SQLite's
    connections are not pinged).
    """

    RECENT_SECONDS = 5.0

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        database = connections["default"]
        raw = database.connection if database.vendor == "postgresql" else None
        if raw is not None and database.health_check_enabled and not database.health_check_done:
            used_at = getattr(raw, "_citypoints_used_at", 0.0)
            if time.monotonic() - used_at < self.RECENT_SECONDS and self._quiet(raw.pgconn):
                database.health_check_done = True
        used = False

        def note_use(execute, sql, params, many, context):
            nonlocal used
            used = True
            return execute(sql, params, many, context)

        try:
            with database.execute_wrapper(note_use):
                return self.get_response(request)
        finally:
            raw = database.connection if database.vendor == "postgresql" else None
            if used and raw is not None:
                raw._citypoints_used_at = time.monotonic()

    @staticmethod
    def _quiet(pgconn) -> bool:
        """Open, idle (no transaction left open), and nothing (an error, an end of file) waiting on its socket."""
        try:
            if pgconn.status != pq.ConnStatus.OK or pgconn.transaction_status != pq.TransactionStatus.IDLE:
                return False
            poller = select.poll()  # not select(): no limit on the descriptor's number
            poller.register(pgconn.socket, select.POLLIN | select.POLLPRI)
            return not poller.poll(0)
        except Exception:  # anything unexpected: let Django ping
            return False
