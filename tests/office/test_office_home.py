"""The office console's front page and navigation: each staff member sees the screens their roles open, with what
waits on each, counted in a handful of queries; a screen not built yet is left out rather than breaking the page."""

import datetime
import re

import pytest
import time_machine
from django.urls import NoReverseMatch, reverse

from citizenpoints.models import (
    Appeal,
    AuditEvent,
    Behaviour,
    CatalogueVersion,
    Claim,
    DataSource,
    IngestBatch,
)
from citizenpoints.office import screens
from citizenpoints.office.screens import Screen, held_roles, screens_count, screens_for
from tests.factories import ResidentFactory, UserFactory, published_catalogue

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 20, 2, 0, tzinfo=datetime.UTC)  # Friday 10:00 in Shanghai
TODAY = datetime.date(2026, 11, 20)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def url_or_none(name):
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def screen_keys(html: str) -> set[str]:
    return set(re.findall(r'id="screen-([a-z-]+)"', html))


def figure(html: str, key: str, label: str) -> str:
    """The figure shown under `label` on the card of screen `key`."""
    card = html[html.index(f'id="screen-{key}"') :]
    card = card[: card.index("</li>")]
    match = re.search(r"<dt>" + re.escape(label) + r"</dt>\s*<dd>(?:<a [^>]*>)?([^<]+)", card)
    assert match, f"no {label!r} on {key}"
    return match.group(1).strip()


def home(client, user):
    client.force_login(user)
    response = client.get(reverse("office:home"))
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def casework():
    """Claims and appeals in every state the front page counts."""
    library = DataSource.objects.create(code="library", name_en="City Library", name_zh="市图书馆")
    published_catalogue(sources=[library], behaviours=[{"code": "library-loan", "evidence_required": True}])
    behaviour = Behaviour.objects.get(code="library-loan")
    resident = ResidentFactory()
    reviewer = UserFactory(roles=["reviewer"])
    when = NOW - datetime.timedelta(days=3)
    for _ in range(3):
        Claim.objects.create(resident=resident, behaviour=behaviour, description="Lent", occurred_at=when, place="x")
    Claim.objects.create(
        resident=resident,
        behaviour=behaviour,
        description="Lent",
        occurred_at=when,
        place="x",
        status="rejected",
        decided_at=NOW,
        decided_by=reviewer,
        decision_reason="No evidence.",
    )

    def appeal(due_on, **fields):
        return Appeal.objects.create(
            resident=resident,
            subject="missing",
            behaviour=behaviour,
            occurred_at=when,
            statement="I borrowed a book.",
            due_on=due_on,
            **fields,
        )

    appeal(TODAY - datetime.timedelta(days=1))  # overdue
    appeal(TODAY - datetime.timedelta(days=5), status="in_review", reviewer=reviewer, review_started_at=NOW)  # overdue
    appeal(TODAY)  # due today: not overdue yet
    appeal(TODAY + datetime.timedelta(days=4))
    appeal(TODAY - datetime.timedelta(days=9), status="granted", decided_at=NOW, decision_reason="Right.")  # closed
    for number, status in enumerate(["preview", "preview", "failed", "done", "received"]):
        IngestBatch.objects.create(source=library, idempotency_key=f"k{number}", body_hash="h", status=status)
    return resident


def test_staff_land_on_the_console_and_residents_do_not(client):
    client.force_login(UserFactory(roles=["reviewer"], mfa=True))
    for url in (reverse("home"), reverse("office:home")):  # "My points" for staff is the console's front page
        response = client.get(url)
        assert response.status_code == 200
        assert "residents" in screen_keys(response.content.decode())

    client.force_login(ResidentFactory().user)
    assert client.get(reverse("office:home")).url == reverse("home")


def test_a_reviewer_sees_casework_with_live_counts_and_nothing_else(client, casework):
    html = home(client, UserFactory(roles=["reviewer"], mfa=True))
    keys = screen_keys(html)
    assert {"residents", "catalogue", "tiers"} <= keys  # reviewers judge claims by the catalogue and tiers
    assert not keys & {"sources", "audit", "partners"}
    assert "Your roles: Reviewer." in html
    if url_or_none("office:claims"):
        assert "claims" in keys
        assert figure(html, "claims", "Waiting for a decision") == "3"
    if url_or_none("office:appeals"):
        assert figure(html, "appeals", "Open appeals") == "4"
        assert figure(html, "appeals", "Overdue") == "2"
        assert 'class="card screen-card urgent" id="screen-appeals"' in html


def test_the_counts_themselves_whichever_screens_exist(casework):
    links = [screens.ScreenLink(key, key, "", f"/{key}/", "reviewer") for key in screens._COUNTERS]
    counted = {link.key: {f.label: f.value for f in link.counts} for link in screens_count(links)}
    assert counted["claims"] == {"Waiting for a decision": 3}
    assert counted["appeals"] == {"Open appeals": 4, "Overdue": 2}
    assert counted["sources"] == {"Uploads waiting for confirmation": 2, "Failed batches, to be retried": 1}
    assert counted["catalogue"] == {"Drafts in progress": 0}
    # "Overdue" is by the office's calendar day: at 23:30 in Shanghai (15:30 UTC) an appeal due today is not late.
    late_evening = datetime.datetime(2026, 11, 20, 15, 30, tzinfo=datetime.UTC)
    assert screens._appeals(links[0], late_evening, TODAY)[1].value == 2


def test_a_data_source_manager_sees_the_batches_waiting(client, casework):
    html = home(client, UserFactory(roles=["data_source_manager"], mfa=True))
    keys = screen_keys(html)
    assert "sources" in keys and not keys & {"residents", "claims", "appeals", "audit", "catalogue"}
    assert figure(html, "sources", "Uploads waiting for confirmation") == "2"
    assert figure(html, "sources", "Failed batches, to be retried") == "1"
    assert "Waiting for a decision" not in html


def test_an_auditor_sees_the_trail_and_todays_refusals(client):
    AuditEvent.objects.create(action="catalogue.draft", object_type="x", object_id="1")
    AuditEvent.objects.create(action="permission.denied", object_type="denial", object_id="reviewer")
    AuditEvent.objects.create(
        action="catalogue.draft", object_type="x", object_id="2", at=NOW - datetime.timedelta(days=2)
    )
    html = home(client, UserFactory(roles=["auditor"], mfa=True))
    keys = screen_keys(html)
    assert "audit" in keys and "catalogue" in keys
    assert "residents" not in keys  # finding residents and reversing is the reviewers' work
    assert figure(html, "audit", "Staff actions today") == "2"
    assert figure(html, "audit", "Refusals today") == "1"
    assert f"{reverse('office:audit')}?action=denied&amp;since=2026-11-20" in html


def test_a_catalogue_editor_sees_the_draft_in_progress(client):
    CatalogueVersion.objects.create(number=1)
    html = home(client, UserFactory(roles=["catalogue_editor"], mfa=True))
    assert "catalogue" in screen_keys(html)
    assert figure(html, "catalogue", "Drafts in progress") == "1"
    assert "residents" not in screen_keys(html)


def test_a_superuser_sees_every_screen_there_is_and_the_administration(client):
    html = home(client, UserFactory(is_superuser=True, is_staff=True, mfa=True))
    expected = {screen.key for screen in screens.SCREENS if screens._url_and_roles(screen)}
    assert screen_keys(html) == expected
    assert {"residents", "catalogue", "sources", "audit"} <= expected
    assert reverse("admin:index") in html
    # Each screen sits under its own role: the catalogue under the editors', the audit trail under the auditors'.
    order = ["role-reviewer", "screen-residents", "role-catalogue_editor", "screen-catalogue"]
    order += ["role-data_source_manager", "screen-sources", "role-partner_manager", "role-auditor", "screen-audit"]
    positions = [html.index(f'id="{anchor}"') for anchor in order]
    assert positions == sorted(positions)


def test_staff_without_a_role_are_told_so(client):
    html = home(client, UserFactory(is_staff=True, mfa=True))
    assert screen_keys(html) == set()
    assert "no credit office role yet" in html


def test_the_front_page_counts_in_a_handful_of_queries(client, casework, django_assert_max_num_queries):
    client.force_login(UserFactory(is_superuser=True, is_staff=True, mfa=True))
    # Session, user, two-factor check, messages... plus one query per screen with figures (five at most).
    with django_assert_max_num_queries(14):
        assert client.get(reverse("office:home")).status_code == 200


def test_a_screen_not_built_yet_is_left_out(monkeypatch, client):
    user = UserFactory(roles=["reviewer"], mfa=True)
    missing = Screen("nowhere", "Nowhere", "", ("reviewer",), ("office:not-built-yet",))
    monkeypatch.setattr(screens, "SCREENS", (*screens.SCREENS, missing))
    links = screens_for(user)
    assert "nowhere" not in {link.key for link in links}
    assert "residents" in {link.key for link in links}
    assert "nowhere" not in screen_keys(home(client, user))


def test_who_opens_a_screen_is_read_from_its_view():
    # The catalogue's view lets reviewers and auditors read: they get the link; a data-source manager does not.
    catalogue = next(screen for screen in screens.SCREENS if screen.key == "catalogue")
    url, roles = screens._url_and_roles(catalogue)
    assert url == reverse("office:catalogue")
    assert set(roles) == {"catalogue_editor", "auditor", "reviewer"}
    assert held_roles(UserFactory(roles=["auditor"])) == {"auditor"}


def office_nav(html: str) -> str:
    start = html.index('class="office-screens"')
    return html[start : html.index("</nav>", start)]


def test_the_navigation_lists_the_same_screens_on_every_office_page(client):
    auditor = UserFactory(roles=["auditor"], mfa=True)
    client.force_login(auditor)
    nav = office_nav(client.get(reverse("office:audit")).content.decode())
    assert [link.url for link in screens_for(auditor)] == re.findall(r'href="([^"]+)"', nav)[1:]  # after Overview
    assert f'href="{reverse("office:residents")}"' not in nav
    assert f'<a href="{reverse("office:audit")}" aria-current="page">' in nav

    both = UserFactory(roles=["reviewer", "auditor"], mfa=True)
    client.force_login(both)
    nav = office_nav(client.get(reverse("office:residents")).content.decode())
    assert f'<a href="{reverse("office:residents")}" aria-current="page">' in nav
    assert f'href="{reverse("office:audit")}"' in nav
    resident = ResidentFactory()
    nav = office_nav(client.get(reverse("office:resident", args=[resident.pk])).content.decode())
    assert f'<a href="{reverse("office:residents")}" aria-current="true">' in nav  # a page within the screen


@pytest.mark.parametrize(
    "roles", [["reviewer"], ["catalogue_editor"], ["data_source_manager"], ["partner_manager"], ["auditor"]]
)
def test_every_screen_offered_opens_and_every_screen_withheld_is_refused(client, roles):
    """The front page offers exactly the screens the roles open, whoever built them and however they guard them."""
    user = UserFactory(roles=roles, mfa=True)
    shown = screen_keys(home(client, user))
    for screen in screens.SCREENS:
        found = screens._url_and_roles(screen)
        if found is None:
            continue
        status = client.get(found[0]).status_code
        assert (status != 403) == (screen.key in shown), (screen.key, status)
        if screen.key in shown:
            assert status == 200, (screen.key, status)
