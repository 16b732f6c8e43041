"""Telling residents what happened to their points, claims and appeals: the inbox, and email in their language.

A notice is written inside the transaction that made the news (so a rolled-back decision tells nobody) and holds
facts, not text (`Notification.params`: ids, numbers, codes). It is worded when shown or mailed (`notices_word`), in
the language the resident reads then. Email goes out after commit, from Celery, in batches; a row is claimed
(`emailed_at` set where it was empty) before its message is sent, so a retried task never sends twice.

Params by kind (the `_id` keys name rows; a row since deleted by retention or leaving words the notice without it):

- POINTS_DIGEST: {"count": records awarded, "points": "12.50"}, with `digest_date`, the local day summed up. Never
  mailed one by one: the nightly `points_digest_create` sums yesterday's awards per resident and mails one each.
- TIER_CHANGED: {"from_tier_id", "to_tier_id", "cause": TierChange.Cause, "reason": the office's words for a scheme
  switch}. Written by every re-tier, per resident (`balance_retier`) or set-based (batches, ageing, scheme switch).
- BADGE_EARNED: {"badge_id"}.
- CLAIM_DECIDED: {"claim_id", "status": Claim.Status, "points": awarded, when approved}.
- APPEAL_RECEIVED: {"appeal_id", "subject", "due_on": "YYYY-MM-DD"}.
- APPEAL_DECIDED: {"appeal_id", "granted": bool (or "status": Appeal.Status), "points": the correction or None}.
- ENTRY_REVERSED: {"entry_id": the award taken back, "reversal_id", "points": taken back, "behaviour_code"}.
"""

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from citizenpoints.models import (
    Appeal,
    Badge,
    Claim,
    LedgerEntry,
    Notification,
    Resident,
    ResidentBadge,
    Tier,
    TierChange,
)
from citizenpoints.rules import CENT

Kind = Notification.Kind

# Messages per email task: one SMTP connection each, and a retry re-sends none of a batch's already sent messages.
EMAIL_BATCH = 200


# --- Writing notices ---------------------------------------------------------------------------------------------


def notify(*, resident: Resident | int, kind: Notification.Kind, params: dict | None = None) -> Notification:
    """Put a notice in the resident's inbox, inside the caller's transaction (so a rolled-back decision tells
    nobody), and mail it after commit if the resident wants mail. `params` are facts (ids, numbers, codes), worded
    when shown, in the language the resident reads then. `resident` may be the row or its id."""
    resident_id = resident if isinstance(resident, int) else resident.pk
    notice = Notification.objects.create(resident_id=resident_id, kind=kind, params=params or {})
    wants_mail = isinstance(resident, int) or resident.email_notices
    if kind != Kind.POINTS_DIGEST and wants_mail:
        transaction.on_commit(lambda: _email_queue([notice.pk]), robust=True)  # mail never fails the news
    return notice


def _json_object(*pairs: str) -> str:
    """SQL building a JSON object from `key, value, ...` expressions (the same call on both databases)."""
    function = "jsonb_build_object" if connection.vendor == "postgresql" else "json_object"
    return f"{function}({', '.join(pairs)})"


def _db_time(value: datetime.datetime):
    """A datetime as the ORM stores it (on SQLite: UTC text), for raw SQL comparing with or writing such columns."""
    return connection.ops.adapt_datetimefield_value(value)


def _max_id(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX(id) FROM {table}")  # the primary key's index: one step, however big
        return cursor.fetchone()[0] or 0


def tier_changes_last_id() -> int:
    """Where the next set-based re-tier's changes will start (call before it, in its transaction)."""
    return _max_id(TierChange._meta.db_table)


def tier_changes_notify(*, after_id: int, changed_at: datetime.datetime, cause: str, reason: str = "") -> int:
    """A TIER_CHANGED notice for each tier change a set-based re-tier just wrote (ids after `after_id`, stamped
    `changed_at` with `cause`), in one INSERT … SELECT; mailed after commit. Returns notices written.

    `changed_at` is matched as the re-tier's own raw SQL wrote it (SQLite keeps a raw parameter's text as given)."""
    params = ["'from_tier_id'", "c.from_tier_id", "'to_tier_id'", "c.to_tier_id", "'cause'", "c.cause"]
    if reason:
        params += ["'reason'", "CAST(%(reason)s AS TEXT)"]
    return _insert_select(
        f"""SELECT c.resident_id, 'tier_changed', {_json_object(*params)}, %(now)s
            FROM {TierChange._meta.db_table} c
            WHERE c.id > %(after)s AND c.changed_at = %(changed)s AND c.cause = %(cause)s""",
        {"after": after_id, "changed": changed_at, "now": _db_time(changed_at), "cause": cause, "reason": reason},
    )


def badges_last_id() -> int:
    return _max_id(ResidentBadge._meta.db_table)


def badges_notify(*, after_id: int, awarded_at: datetime.datetime) -> int:
    """A BADGE_EARNED notice for each badge a set-based pass just granted, in one INSERT … SELECT."""
    return _insert_select(
        f"""SELECT b.resident_id, 'badge_earned', {_json_object("'badge_id'", "b.badge_id")}, %(now)s
            FROM {ResidentBadge._meta.db_table} b WHERE b.id > %(after)s AND b.awarded_at = %(awarded)s""",
        {"after": after_id, "awarded": awarded_at, "now": _db_time(awarded_at)},
    )


def _insert_select(select_sql: str, params: dict, *, digest: bool = False) -> int:
    """INSERT the notices `select_sql` yields (resident_id, kind, params, created_at[, digest_date]), then queue their
    email after commit: one task for the new id range, which mails them in batches. Returns rows inserted.

    Digests skip rows the unique (resident, day) constraint already holds (ON CONFLICT DO NOTHING, which both
    databases accept without naming the partial index)."""
    table = Notification._meta.db_table
    columns = "resident_id, kind, params, created_at" + (", digest_date" if digest else "")
    # Every id this INSERT takes is above the highest id visible now (a sequence only grows).
    first = _max_id(table) + 1
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) {select_sql}" + (" ON CONFLICT DO NOTHING" if digest else ""), params
        )
        written = max(cursor.rowcount, 0)
    if written:
        last = _max_id(table)
        transaction.on_commit(lambda: _email_range_queue(first, last), robust=True)
    return written


# --- The daily digest ---------------------------------------------------------------------------------------------


def local_day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    from citizenpoints.services.scoring import local_zone

    zone = local_zone()
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)
    end = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone)
    return start, end


def yesterday_local(now: datetime.datetime | None = None) -> datetime.date:
    from citizenpoints.services.scoring import local_zone

    now = now or timezone.now()
    return now.astimezone(local_zone()).date() - datetime.timedelta(days=1)


def points_digest_create(*, day: datetime.date, now: datetime.datetime | None = None) -> int:
    """One POINTS_DIGEST notice per resident (still in the programme) for the awards recorded on local `day`: how
    many, and their points. One INSERT … SELECT … GROUP BY over the ledger; the unique (resident, digest day)
    constraint makes a re-run add nothing (ON CONFLICT DO NOTHING). Mailed after commit in batches. Returns notices
    written. Awards only: a correction is told on its own (ENTRY_REVERSED), never folded into good news."""
    now = now or timezone.now()
    start, end = local_day_bounds(day)
    ledger, residents = LedgerEntry._meta.db_table, Resident._meta.db_table
    summary = _json_object("'count'", "COUNT(*)", "'points'", "CAST(ROUND(SUM(e.points), 2) AS TEXT)")
    with transaction.atomic():
        return _insert_select(
            f"""SELECT e.resident_id, 'points_digest', {summary}, %(now)s, %(day)s
                FROM {ledger} e JOIN {residents} r ON r.id = e.resident_id
                WHERE e.kind = 'award' AND e.recorded_at >= %(start)s AND e.recorded_at < %(end)s
                  AND r.left_at IS NULL
                GROUP BY e.resident_id""",
            {"now": _db_time(now), "day": day, "start": _db_time(start), "end": _db_time(end)},
            digest=True,
        )


# --- Email -------------------------------------------------------------------------------------------------------


def _email_queue(notice_ids: list[int]) -> None:
    from citizenpoints.tasks import email_notices  # tasks import this module

    email_notices.delay(notice_ids=notice_ids)


def _email_range_queue(first_id: int, last_id: int) -> None:
    from citizenpoints.tasks import email_notice_range

    email_notice_range.delay(first_id=first_id, last_id=last_id)


def _mailable() -> QuerySet:
    """Notices still to mail to a resident who wants mail, is in the programme and confirmed their address."""
    verified = EmailAddress.objects.filter(user_id=OuterRef("resident__user_id"), verified=True, primary=True)
    return Notification.objects.filter(
        emailed_at__isnull=True,
        resident__email_notices=True,
        resident__left_at__isnull=True,
        resident__user__isnull=False,
    ).filter(Exists(verified))


def notice_range_email_batches(*, first_id: int, last_id: int) -> Iterable[list[int]]:
    """The mailable notices with ids in [first_id, last_id], in batches of EMAIL_BATCH ids (a primary key range
    scan, so a scheme switch that told a million residents is walked in order without holding them in memory)."""
    batch: list[int] = []
    ids = _mailable().filter(pk__gte=first_id, pk__lte=last_id).order_by("pk").values_list("pk", flat=True)
    for notice_id in ids.iterator(chunk_size=5000):
        batch.append(notice_id)
        if len(batch) == EMAIL_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def notices_email(*, notice_ids: Sequence[int], now: datetime.datetime | None = None) -> int:
    """Mail these notices to their residents, each in the resident's language; returns messages sent.

    Idempotent: each row is claimed first (one UPDATE … SET emailed_at WHERE emailed_at IS NULL AND the resident
    still wants mail, has an account and a confirmed address … RETURNING id), so a notice already mailed, or claimed
    by a concurrent worker, is skipped. If sending fails, the rows not sent are released and the error raised (the
    task retries them). Run outside a transaction: the claim must commit before the message leaves.
    """
    if not notice_ids:
        return 0
    now = now or timezone.now()
    claimable_sql, claimable_params = _mailable().filter(pk__in=list(notice_ids)).values("pk").query.sql_with_params()
    table = Notification._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET emailed_at = %s WHERE emailed_at IS NULL AND id IN ({claimable_sql}) RETURNING id",
            [now, *claimable_params],
        )
        claimed = [row[0] for row in cursor.fetchall()]
    if not claimed:
        return 0
    notices = list(Notification.objects.filter(pk__in=claimed).select_related("resident__user").order_by("pk"))
    addresses = dict(
        EmailAddress.objects.filter(
            user_id__in=[notice.resident.user_id for notice in notices], verified=True, primary=True
        ).values_list("user_id", "email")
    )
    sent: list[int] = []
    try:
        with mailers.default as mailer:  # one connection for the batch
            for notice in notices:
                address = addresses.get(notice.resident.user_id)
                if address:
                    mailer.send_messages([_message(notice, address)])
                sent.append(notice.pk)
    except Exception:
        Notification.objects.filter(pk__in=set(claimed) - set(sent)).update(emailed_at=None)
        raise
    return len(sent)


def _message(notice: Notification, address: str) -> EmailMultiAlternatives:
    resident = notice.resident
    with translation.override(resident.language):
        worded = notices_word([notice])[0]
        context = {
            "resident": resident,
            "notice": worded,
            "url": site_url(worded.url),
            "inbox_url": site_url(reverse("inbox")),
            "profile_url": site_url(reverse("profile")),
        }
        subject = _("[CityPoints] %(title)s") % {"title": worded.title}
        text = render_to_string("citizenpoints/email/notice_message.txt", context)
        html = render_to_string("citizenpoints/email/notice_message.html", context)
    message = EmailMultiAlternatives(
        " ".join(subject.split()),
        text,
        settings.DEFAULT_FROM_EMAIL,
        [address],
        headers={"List-Unsubscribe": f"<{context['profile_url']}>"},  # mail clients' own "unsubscribe"
    )
    message.attach_alternative(html, "text/html")
    return message


def site_url(path: str) -> str:
    """An absolute link for an email (no request to build it from): CITYPOINTS_SITE_URL + path."""
    base = getattr(settings, "CITYPOINTS_SITE_URL", "") or ""
    return base.rstrip("/") + path


# --- The inbox ---------------------------------------------------------------------------------------------------


def notices_unread_count(*, user) -> int | None:
    """Unread notices of the signed-in user's resident, or None if the user has not joined. One query: the resident
    by its account, and a COUNT on the partial index of unread rows."""
    if not getattr(user, "is_authenticated", False):
        return None
    unread = (
        Notification.objects.filter(resident=OuterRef("pk"), read_at__isnull=True)
        .order_by()
        .values("resident")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return (
        Resident.objects.filter(user=user)
        .annotate(unread=Coalesce(Subquery(unread), 0))
        .values_list("unread", flat=True)
        .first()
    )


def notices_of(*, resident: Resident) -> QuerySet:
    return Notification.objects.filter(resident=resident).order_by("-created_at", "-id")


def notices_mark_read(*, resident: Resident, notice_ids: Sequence[int] | None = None, now=None) -> int:
    """Mark the resident's unread notices read (only these ids, if given; never another resident's). Returns rows."""
    rows = Notification.objects.filter(resident=resident, read_at__isnull=True)
    if notice_ids is not None:
        rows = rows.filter(pk__in=list(notice_ids))
    return rows.update(read_at=now or timezone.now())


def resident_email_notices_set(*, resident: Resident, email_notices: bool) -> Resident:
    """The resident's own choice: mail their notices or keep them in the inbox only (the inbox always has them)."""
    Resident.objects.filter(pk=resident.pk).update(email_notices=email_notices)
    resident.email_notices = email_notices
    return resident


# --- Wording -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WordedNotice:
    notice: Notification
    title: str
    body: list[str]  # paragraphs, plain text
    url: str  # a path on this site

    @property
    def unread(self) -> bool:
        return self.notice.read_at is None


def _param_id(params: dict, name: str) -> int | None:
    value = params.get(f"{name}_id", params.get(name))
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _decimal(value) -> Decimal | None:
    try:
        return Decimal(str(value)).quantize(CENT) if value is not None and value != "" else None
    except InvalidOperation:
        return None


def _url(names: Sequence[str], pk: int | None, fallback: str = "history") -> str:
    """The first of `names` that resolves for this row (other parts of the site register them); else `fallback`."""
    if pk is not None:
        for name in names:
            try:
                return reverse(name, args=[pk])
            except NoReverseMatch:
                continue
    return reverse(fallback)


class _Lookups:
    """The rows a page of notices names, fetched with one query per type (not one per notice)."""

    def __init__(self, notices: Sequence[Notification]) -> None:
        wanted: dict[str, set[int]] = {"tier": set(), "badge": set(), "claim": set(), "appeal": set(), "entry": set()}
        for notice in notices:
            params = notice.params or {}
            for key, names in (
                ("tier", ("from_tier", "to_tier")),
                ("badge", ("badge",)),
                ("claim", ("claim",)),
                ("appeal", ("appeal",)),
                ("entry", ("entry", "reversal")),
            ):
                for name in names:
                    if (pk := _param_id(params, name)) is not None:
                        wanted[key].add(pk)
        self.tiers = Tier.objects.select_related("scheme").in_bulk(wanted["tier"]) if wanted["tier"] else {}
        self.badges = Badge.objects.in_bulk(wanted["badge"]) if wanted["badge"] else {}
        claims = Claim.objects.select_related("behaviour", "ledger_entry")
        self.claims = claims.in_bulk(wanted["claim"]) if wanted["claim"] else {}
        self.appeals = Appeal.objects.in_bulk(wanted["appeal"]) if wanted["appeal"] else {}
        self.entries = (
            LedgerEntry.objects.select_related("behaviour").in_bulk(wanted["entry"]) if wanted["entry"] else {}
        )


def notices_word(notices: Sequence[Notification]) -> list[WordedNotice]:
    """Title, paragraphs and link of each notice, in the active language (wrap in `translation.override(...)` for
    someone else's). Five queries at most, however many notices."""
    lookups = _Lookups(notices)
    return [_word(notice, lookups) for notice in notices]


def _tier_name(tier: Tier | None) -> str:
    from citizenpoints.templatetags.points import local

    if tier is None:
        return _("a new tier")
    name = local(tier, "name")
    return f"{tier.label} · {name}" if tier.label else name


def _word(notice: Notification, lookups: _Lookups) -> WordedNotice:
    params = notice.params or {}
    kind = notice.kind
    if kind == Kind.POINTS_DIGEST:
        title, body, url = _word_digest(notice, params)
    elif kind == Kind.TIER_CHANGED:
        title, body, url = _word_tier(params, lookups)
    elif kind == Kind.BADGE_EARNED:
        title, body, url = _word_badge(params, lookups)
    elif kind == Kind.CLAIM_DECIDED:
        title, body, url = _word_claim(params, lookups)
    elif kind in (Kind.APPEAL_RECEIVED, Kind.APPEAL_DECIDED):
        title, body, url = _word_appeal(kind, params, lookups)
    elif kind == Kind.ENTRY_REVERSED:
        title, body, url = _word_reversal(params, lookups)
    else:  # a kind added later and not worded yet: still readable
        title, body, url = str(notice.get_kind_display()), [], reverse("home")
    return WordedNotice(notice=notice, title=title, body=[line for line in body if line], url=url)


def _points(value) -> str:
    from citizenpoints.templatetags.points import points

    return points(value if value is not None else 0)


def _word_digest(notice: Notification, params: dict):
    from citizenpoints.templatetags.points import number

    count = int(params.get("count") or 0)
    day = date_format(notice.digest_date, "DATE_FORMAT") if notice.digest_date else ""
    title = _("You received %(points)s") % {"points": _points(_decimal(params.get("points")))}
    if count == 1:
        line = _("From 1 record on %(day)s.") % {"day": day}
    else:
        line = _("From %(count)s records on %(day)s.") % {"count": number(count), "day": day}
    return title, [line, _("Each one, with where it came from, is in your points history.")], reverse("history")


def _word_tier(params: dict, lookups: _Lookups):
    to_tier = lookups.tiers.get(_param_id(params, "to_tier"))
    from_tier = lookups.tiers.get(_param_id(params, "from_tier"))
    cause = params.get("cause")
    names = {"tier": _tier_name(to_tier), "previous": _tier_name(from_tier)}
    up = (
        to_tier is not None
        and from_tier is not None
        and to_tier.scheme_id == from_tier.scheme_id
        and to_tier.min_score > from_tier.min_score
    )
    if cause == TierChange.Cause.SCHEME:
        from citizenpoints.templatetags.points import local

        scheme = local(to_tier.scheme, "name") if to_tier else ""
        body = [
            _(
                "The city changed its tier scheme to “%(scheme)s”. Your points are unchanged; in the new scheme you "
                "are in %(tier)s."
            )
            % {"scheme": scheme, **names},
        ]
        if params.get("reason"):
            body.append(_("The credit office says: %(reason)s") % {"reason": params["reason"]})
        return _("New tier scheme: you are in %(tier)s") % names, body, reverse("tiers")
    if up:
        return (
            _("You reached %(tier)s") % names,
            [_("Your points moved you up from %(previous)s to %(tier)s. Well done!") % names],
            reverse("home"),
        )
    if cause == TierChange.Cause.AGEING:
        body = [
            _("Points from over a year ago have aged out; you are now in %(tier)s.") % names,
            _("Every point you earn counts towards moving up again."),
        ]
        return _("Your tier is now %(tier)s") % names, body, reverse("tiers")
    if cause == TierChange.Cause.REVERSAL:
        body = [
            _("A record was corrected, so you are now in %(tier)s.") % names,
            _("Your points history shows the correction and its reason. If you think it is wrong, you can appeal."),
        ]
        return _("Your tier is now %(tier)s") % names, body, reverse("history")
    return _("Your tier is now %(tier)s") % names, [_("You are now in %(tier)s.") % names], reverse("home")


def _word_badge(params: dict, lookups: _Lookups):
    from citizenpoints.templatetags.points import local

    badge = lookups.badges.get(_param_id(params, "badge"))
    if badge is None:
        return _("You earned a badge"), [], reverse("home")
    name = f"{badge.emoji} {local(badge, 'name')}".strip()
    return _("You earned a badge: %(badge)s") % {"badge": name}, [local(badge, "description")], reverse("home")


def _word_claim(params: dict, lookups: _Lookups):
    from citizenpoints.templatetags.points import local

    claim_id = _param_id(params, "claim")
    claim = lookups.claims.get(claim_id)
    status = params.get("status") or (claim.status if claim else "")
    behaviour = local(claim.behaviour, "name") if claim else ""
    url = _url(("claim_detail", "claim", "claims:detail"), claim_id if claim else None)
    if status == Claim.Status.APPROVED:
        points = _decimal(params.get("points"))
        if points is None and claim and claim.ledger_entry:
            points = claim.ledger_entry.points
        if points is not None:
            values = {"points": _points(points), "behaviour": behaviour}
            line = _("You received %(points)s for “%(behaviour)s”.") % values
        else:
            line = _("Your claim for “%(behaviour)s” was approved.") % {"behaviour": behaviour}
        return _("Your claim was approved"), [line], url
    body = [_("Your claim for “%(behaviour)s” was not approved.") % {"behaviour": behaviour}]
    if claim and claim.decision_reason:
        body.append(_("The credit office's reason: %(reason)s") % {"reason": claim.decision_reason})
    body.append(_("If you think this is wrong, you can appeal."))
    return _("Your claim was not approved"), body, url


def _word_appeal(kind: str, params: dict, lookups: _Lookups):
    appeal_id = _param_id(params, "appeal")
    appeal = lookups.appeals.get(appeal_id)
    url = _url(("appeal_detail", "appeal", "appeals:detail"), appeal_id if appeal else None)
    if kind == Kind.APPEAL_RECEIVED:
        due = params.get("due_on") or (appeal.due_on.isoformat() if appeal else "")
        try:
            due_text = date_format(datetime.date.fromisoformat(due), "DATE_FORMAT")
        except (TypeError, ValueError):
            due_text = ""
        body = [
            _("The credit office will decide by %(date)s and tell you its reasons.") % {"date": due_text}
            if due_text
            else _("The credit office will decide within the deadline and tell you its reasons.")
        ]
        return _("We received your appeal"), body, url
    status = params.get("status") or (appeal.status if appeal else "")
    if "granted" in params:  # what appeal_decide writes
        status = Appeal.Status.GRANTED if params["granted"] else Appeal.Status.REFUSED
    body = []
    if appeal and appeal.decision_reason:
        body.append(_("The credit office's reasons: %(reason)s") % {"reason": appeal.decision_reason})
    if status == Appeal.Status.GRANTED:
        body.append(_("Any correction to your points is already in your points history."))
        return _("Your appeal was granted"), body, url
    return _("Your appeal was not granted"), body, url


def _word_reversal(params: dict, lookups: _Lookups):
    from citizenpoints.templatetags.points import local

    entry_id = _param_id(params, "entry")
    entry = lookups.entries.get(entry_id)
    reversal_id = _param_id(params, "reversal")
    behaviour = local(entry.behaviour, "name") if entry else params.get("behaviour_code", "")
    points = _decimal(params.get("points"))
    if points is None and entry is not None:
        points = entry.points
    values = {"points": _points(abs(points) if points is not None else 0), "behaviour": behaviour}
    body = [_("The credit office took back %(points)s for “%(behaviour)s”: the record was shown to be wrong.") % values]
    reversal = lookups.entries.get(reversal_id)
    if reversal is not None and reversal.reason:
        body.append(_("The credit office's reason: %(reason)s") % {"reason": reversal.reason})
    body.append(_("If you think this is wrong, you can appeal."))
    anchor = f"#entry-{reversal_id}" if reversal_id else ""
    return _("Points taken back: %(behaviour)s") % values, body, reverse("history") + anchor
