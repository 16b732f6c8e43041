"""The office console's screens: which ones a staff member may open, where they are, and what waits on each.

The console grows screen by screen, so a screen whose URL is not there (yet) is left out rather than breaking the
page. Who may open a screen is read from its view (`office_role_required` marks it) where it can be, so the front
page and the navigation offer exactly what the views let through; `roles` below is the fallback.
"""

import datetime
from dataclasses import dataclass, field

from django.db.models import Count, Q
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from citizenpoints.models import (
    Appeal,
    AuditEvent,
    CatalogueVersion,
    Claim,
    IngestBatch,
    OfficeRole,
    User,
)
from citizenpoints.services.scoring import local_zone

# The order the front page lists roles in: the daily casework first.
ROLE_ORDER = (
    OfficeRole.REVIEWER,
    OfficeRole.CATALOGUE_EDITOR,
    OfficeRole.DATA_SOURCE_MANAGER,
    OfficeRole.PARTNER_MANAGER,
    OfficeRole.AUDITOR,
)


@dataclass(frozen=True)
class Screen:
    key: str
    label: Promise
    about: Promise
    roles: tuple[str, ...]  # who may open it when its view does not say; the first is the role it is listed under
    url_names: tuple[str, ...]  # where it may live: the first name that resolves wins


SCREENS: tuple[Screen, ...] = (
    Screen(
        "claims",
        _("Claims"),
        _("Residents' claims with evidence: approve or reject with a reason."),
        (OfficeRole.REVIEWER,),
        ("office:claims",),
    ),
    Screen(
        "appeals",
        _("Appeals"),
        _("Decide appeals within their working-day deadline; overdue ones first."),
        (OfficeRole.REVIEWER,),
        ("office:appeals",),
    ),
    Screen(
        "residents",
        _("Residents and reversals"),
        _("Find a resident's records and reverse a wrong one, with a written reason."),
        (OfficeRole.REVIEWER,),
        ("office:residents",),
    ),
    Screen(
        "calendar",
        _("Working-day calendar"),
        _("Public holidays and working weekends that appeal deadlines count on."),
        (OfficeRole.REVIEWER,),
        ("office:calendar", "office:holidays"),
    ),
    Screen(
        "catalogue",
        _("Catalogue"),
        _("Draft, compare and publish the behaviours that earn points."),
        (OfficeRole.CATALOGUE_EDITOR, OfficeRole.AUDITOR, OfficeRole.REVIEWER),
        ("office:catalogue",),
    ),
    Screen(
        "tiers",
        _("Tier schemes"),
        _("The bands a score places residents in."),
        (OfficeRole.CATALOGUE_EDITOR,),
        ("office:tiers", "office:tier_schemes"),
    ),
    Screen(
        "sources",
        _("Data sources"),
        _("City departments, their API keys and CSV uploads."),
        (OfficeRole.DATA_SOURCE_MANAGER,),
        ("office:sources",),
    ),
    Screen(
        "partners",
        _("Partners and benefits"),
        _("Partner merchants, their counters and staff, and the benefits they offer."),
        (OfficeRole.PARTNER_MANAGER,),
        ("benefits:office-merchants", "benefits:office-partners", "office:partners"),
    ),
    Screen(
        "statistics",
        _("Statistics"),
        _("Points, tiers, badges, benefits, appeals and ingest at a glance, each with a CSV export."),
        (OfficeRole.AUDITOR,),
        ("office:statistics",),
    ),
    Screen(
        "audit",
        _("Audit trail"),
        _("Every staff action and every refusal: search and export."),
        (OfficeRole.AUDITOR,),
        ("office:audit",),
    ),
)


@dataclass
class Figure:
    label: str
    value: int
    urgent: bool = False  # something is late or failing: shown so that it stands out
    url: str = ""


@dataclass
class ScreenLink:
    key: str
    label: Promise
    about: Promise
    url: str
    role: str  # the held role it is listed under on the front page
    counts: list[Figure] = field(default_factory=list)
    current: str = ""  # aria-current in the navigation: "page" on the screen itself, "true" on a page within it


def held_roles(user: User) -> set[str]:
    """The office roles `user` acts with (a superuser: every role). One query."""
    if not (user and user.is_authenticated and user.is_active):
        return set()
    if user.is_superuser:
        return set(OfficeRole.values)
    return user.office_roles


def _url_and_roles(screen: Screen) -> tuple[str, tuple[str, ...]] | None:
    for name in screen.url_names:
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        try:
            roles = getattr(resolve(url).func, "office_roles", None)
        except Resolver404:
            roles = None
        return url, tuple(roles) if roles else screen.roles
    return None


def screens_for(user: User, *, roles: set[str] | None = None) -> list[ScreenLink]:
    """The screens `user` may open, in the console's order, without counts (no query beyond the user's roles)."""
    roles = held_roles(user) if roles is None else roles
    links = []
    for screen in SCREENS:
        found = _url_and_roles(screen)
        if found is None:
            continue
        url, allowed = found
        mine = [role for role in allowed if role in roles]
        if not mine:
            continue
        # Listed under the screen's own role where held, else under the first held role (console order) opening it.
        home = screen.roles[0] if screen.roles[0] in mine else next((r for r in ROLE_ORDER if r in mine), mine[0])
        links.append(ScreenLink(screen.key, screen.label, screen.about, url, home))
    return links


def screens_count(links: list[ScreenLink], *, now: datetime.datetime | None = None) -> list[ScreenLink]:
    """Fill in what waits on each screen: one query per screen that has figures (five at most)."""
    now = now or timezone.now()
    today = now.astimezone(local_zone()).date()
    for link in links:
        link.counts = _COUNTERS.get(link.key, lambda link, now, today: [])(link, now, today)
    return links


def _claims(link, now, today):
    pending = Claim.objects.filter(status=Claim.Status.PENDING).count()
    return [Figure(gettext("Waiting for a decision"), pending)]


def _appeals(link, now, today):
    figures = Appeal.objects.filter(status__in=Appeal.OPEN).aggregate(
        open=Count("pk"), overdue=Count("pk", filter=Q(due_on__lt=today))
    )
    return [
        Figure(gettext("Open appeals"), figures["open"]),
        Figure(gettext("Overdue"), figures["overdue"], urgent=figures["overdue"] > 0),
    ]


def _sources(link, now, today):
    figures = IngestBatch.objects.filter(status__in=[IngestBatch.Status.PREVIEW, IngestBatch.Status.FAILED]).aggregate(
        preview=Count("pk", filter=Q(status=IngestBatch.Status.PREVIEW)),
        failed=Count("pk", filter=Q(status=IngestBatch.Status.FAILED)),
    )
    return [
        Figure(gettext("Uploads waiting for confirmation"), figures["preview"]),
        Figure(gettext("Failed batches, to be retried"), figures["failed"], urgent=figures["failed"] > 0),
    ]


def _catalogue(link, now, today):
    drafts = CatalogueVersion.objects.filter(status=CatalogueVersion.Status.DRAFT).count()
    return [Figure(gettext("Drafts in progress"), drafts)]


def _audit(link, now, today):
    start = datetime.datetime.combine(today, datetime.time.min, tzinfo=local_zone())
    figures = AuditEvent.objects.filter(at__gte=start).aggregate(
        events=Count("pk"), refusals=Count("pk", filter=Q(object_type="denial"))
    )
    since = f"since={today:%Y-%m-%d}"
    return [
        Figure(gettext("Staff actions today"), figures["events"], url=f"{link.url}?{since}"),
        Figure(gettext("Refusals today"), figures["refusals"], url=f"{link.url}?action=denied&{since}"),
    ]


_COUNTERS = {
    "claims": _claims,
    "appeals": _appeals,
    "sources": _sources,
    "catalogue": _catalogue,
    "audit": _audit,
}
