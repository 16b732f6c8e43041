"""The configured authentication backends, loading the signed-in user of a request in one statement.

Every signed-in request loads its user from the session (`get_user`), then asks of it what the site's chrome and
middleware need: its groups (is it office staff? then has it enrolled an authenticator app?), whether it is a
partner's staff member (the Counter link), and its resident's unread notices (the Inbox link). Asked one by one
through the ORM, that was four or five queries and most of the CPU of an empty signed-in page; here the user row
comes with the answers, in one hand-written statement built once per database vendor from the models' metadata.

Only `get_user` changes: authenticating a password, permissions and everything else are the parent classes'. The
answers are as of the start of the request, like the user row itself; the header asks again after a write (see
`citizenpoints.templatetags.notices`). A role, an enrolment or a staff row given or taken away counts from the next
request, as before.

Sessions record the dotted path of the backend that signed them in. Those signed in before these classes existed
name the parents' paths; `LEGACY_BACKENDS` maps them to these, and `citizenpoints.middleware.AuthenticationMiddleware`
rewrites such a session on its next request instead of signing it out.
"""

import functools
from dataclasses import dataclass

from allauth.account import auth_backends as allauth_backends
from allauth.mfa.models import Authenticator
from asgiref.sync import sync_to_async
from django.contrib.auth import backends as django_backends
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import connection

from citizenpoints.models import Notification, Resident, User
from citizenpoints.sql import execute_prepared

LEGACY_BACKENDS = {
    "django.contrib.auth.backends.ModelBackend": "citizenpoints.auth_backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend": "citizenpoints.auth_backends.AuthenticationBackend",
}


@dataclass(frozen=True)
class AccountFacts:
    """What every signed-in page asks about its user, read with the user row (as of the start of the request)."""

    unread_notices: int | None  # None: the account has not joined, so it has no inbox
    partner_staff: bool  # has a partner staff row (active or not), as `user.merchant_staff` would say
    totp_enrolled: bool  # has an authenticator app (office staff must)


def account_facts(user) -> AccountFacts | None:
    """The facts read with `user`, or None if it was loaded some other way (then ask the database)."""
    return getattr(user, "_account_facts", None)


def groups_give(user, groups: list[Group]) -> None:
    """Make `groups` what `user.groups.all()` answers for this user object, as prefetch_related leaves them: every
    role check of the request (`is_office_staff`, `office_roles`) reads them without a query."""
    loaded = user.groups.all()
    loaded._result_cache = groups
    loaded._prefetch_done = True
    if not hasattr(user, "_prefetched_objects_cache"):
        user._prefetched_objects_cache = {}
    user._prefetched_objects_cache["groups"] = loaded


@functools.cache
def _statement(vendor: str) -> tuple[str, tuple, tuple]:
    """The statement, the user's attnames and each field's converters (the ORM's own, so SQLite's text dates and
    integer booleans become the same Python values as PostgreSQL's). One row per group, at least one."""
    q = connection.ops.quote_name
    fields = User._meta.concrete_fields
    converters = []
    for field in fields:
        expression = field.get_col("u")
        converters.append(
            (tuple(connection.ops.get_db_converters(expression) + field.get_db_converters(connection)), expression)
        )
    user_groups = User._meta.get_field("groups")
    staff = User.merchant_staff.related.related_model  # the points domain does not import benefits
    unread = (
        f"SELECT count(*) FROM {q(Notification._meta.db_table)} n "
        f"WHERE n.{q('resident_id')} = r.{q('id')} AND n.{q('read_at')} IS NULL"
    )
    sql = (
        f"SELECT {', '.join(f'u.{q(field.column)}' for field in fields)}, g.{q('id')}, g.{q('name')}, "
        f"r.{q('id')}, ({unread}), "
        f"EXISTS (SELECT 1 FROM {q(staff._meta.db_table)} m WHERE m.{q('user_id')} = u.{q('id')}), "
        f"EXISTS (SELECT 1 FROM {q(Authenticator._meta.db_table)} a "
        f"WHERE a.{q('user_id')} = u.{q('id')} AND a.{q('type')} = %s) "
        f"FROM {q(User._meta.db_table)} u "
        f"LEFT JOIN {q(user_groups.m2m_db_table())} ug ON ug.{q(user_groups.m2m_column_name())} = u.{q('id')} "
        f"LEFT JOIN {q(Group._meta.db_table)} g ON g.{q('id')} = ug.{q(user_groups.m2m_reverse_name())} "
        f"LEFT JOIN {q(Resident._meta.db_table)} r ON r.{q('user_id')} = u.{q('id')} "
        f"WHERE u.{q('id')} = %s"
    )
    return sql, tuple(field.attname for field in fields), tuple(converters)


def _fetch_all(sql: str, params: list) -> list[tuple]:
    """The statement's rows; prepared once per PostgreSQL connection (planning its joins and subqueries cost about
    0.3 ms of CPU per request against 0.05 ms to run them)."""
    with connection.cursor() as cursor:
        execute_prepared(cursor, sql, params)
        return cursor.fetchall()


def user_with_facts(user_id) -> User | None:
    """The user by primary key with its groups preloaded and its `AccountFacts`, in one statement; None if absent."""
    try:
        user_id = User._meta.pk.to_python(user_id)
    except ValidationError:
        return None
    sql, attnames, converters = _statement(connection.vendor)
    rows = _fetch_all(sql, [Authenticator.Type.TOTP.value, user_id])
    if not rows:
        return None
    width = len(attnames)
    values = []
    for value, (functions, expression) in zip(rows[0][:width], converters, strict=True):
        for function in functions:
            value = function(value, expression, connection)
        values.append(value)
    user = User.from_db(connection.alias, attnames, values)
    groups_give(user, [Group(id=row[width], name=row[width + 1]) for row in rows if row[width] is not None])
    resident_id, unread, partner_staff, totp = rows[0][width + 2 :]
    user._account_facts = AccountFacts(
        unread_notices=None if resident_id is None else unread,
        partner_staff=bool(partner_staff),
        totp_enrolled=bool(totp),
    )
    if not partner_staff:  # `user.merchant_staff` answers None without a query
        User.merchant_staff.related.set_cached_value(user, None)
    return user


class UserWithFactsMixin:
    """`get_user` by `user_with_facts`, with the parent's rule for inactive accounts."""

    def get_user(self, user_id):
        user = user_with_facts(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None

    async def aget_user(self, user_id):
        return await sync_to_async(self.get_user)(user_id)


class ModelBackend(UserWithFactsMixin, django_backends.ModelBackend):
    pass


class AuthenticationBackend(UserWithFactsMixin, allauth_backends.AuthenticationBackend):
    pass
