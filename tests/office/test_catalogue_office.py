import datetime

import pytest
import time_machine
from django.urls import reverse

from citizenpoints.models import AuditEvent, Behaviour, CatalogueVersion, Category, DataSource, LedgerEntry
from citizenpoints.services.awards import award_grant
from tests.factories import ResidentFactory, UserFactory, published_catalogue

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 21, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def library():
    source = DataSource.objects.create(code="library", name_en="City Library", name_zh="市图书馆")
    published_catalogue(sources=[source], behaviours=[{"code": "library-loan", "rule": {"points": 1}}])
    return source


@pytest.fixture
def editor(client):
    client.force_login(UserFactory(roles=["catalogue_editor"], mfa=True))
    return client


def form_data(**overrides):
    data = {
        "code": "volunteer-hours",
        "category": Category.objects.get(code="volunteering").pk,
        "name_en": "Volunteering",
        "name_zh": "志愿服务",
        "rule_kind": "per_unit",
        "unit": "hour",
        "steps": "20 1\n80 2\n200 3\n* 4",
    }
    return {**data, **overrides}


def start_draft(client) -> CatalogueVersion:
    client.post(reverse("office:catalogue_draft"))
    return CatalogueVersion.objects.get(status="draft")


def test_draft_edit_compare_publish(editor, library):
    resident = ResidentFactory()
    earned = award_grant(
        resident=resident,
        behaviour_code="library-loan",
        source=library,
        external_id="l1",
        occurred_at=NOW - datetime.timedelta(days=1),
    ).entry
    draft = start_draft(editor)
    assert list(draft.behaviours.values_list("code", flat=True)) == ["library-loan"]

    response = editor.post(reverse("office:behaviour_new", args=[draft.number]), form_data())
    assert response.status_code == 302
    editor.post(
        reverse("office:behaviour_edit", args=[draft.number, "library-loan"]),
        form_data(
            code="ignored",
            category=Category.objects.get(code="reading-culture").pk,
            name_en="Library loan",
            name_zh="借书",
            rule_kind="fixed",
            points="2",
            sources=[library.pk],
            cap_per_day="4",
        ),
    )
    page = editor.get(reverse("office:catalogue_version", args=[draft.number])).content.decode()
    assert "Added" in page and "volunteer-hours" in page
    assert "Changed" in page and "1 point per record" in page and "2 points per record" in page

    editor.post(reverse("office:catalogue_publish", args=[draft.number]), {"reason": "Weihai hours; loans worth 2"})
    draft.refresh_from_db()
    assert draft.status == "published" and draft.publish_reason == "Weihai hours; loans worth 2"
    assert CatalogueVersion.objects.get(number=draft.number - 1).status == "retired"
    earned.refresh_from_db()
    assert earned.points == 1 and earned.catalogue_version.number == draft.number - 1  # untouched
    assert AuditEvent.objects.filter(action="catalogue.publish", reason="Weihai hours; loans worth 2").exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rule_kind": "amount_bands", "unit": "yuan", "bands": "1000 10000 5\n9000 * 10"}, "Bands overlap"),
        ({"rule_kind": "amount_bands", "unit": "yuan", "bands": "1000 10000 5\n12000 * 10"}, "There is a gap"),
        ({"rule_kind": "fixed", "points": "5", "cap_per_day": "3"}, "smaller than one record"),
        ({"rule_kind": "fixed", "points": "0"}, "greater than or equal to 0.01"),
        ({"steps": "20 1\n80 two"}, "Line 2"),
        ({"name_en": "Church attendance"}, "The rules forbid recording"),
        ({"code": "library-loan", "category": None}, "already means"),
    ],
    ids=[
        "overlapping bands",
        "gapped bands",
        "cap below a record",
        "zero points",
        "not a number",
        "forbidden",
        "code reused",
    ],
)
def test_bad_rules_are_explained_and_nothing_is_saved(editor, library, overrides, message):
    draft = start_draft(editor)
    if overrides.get("category", 0) is None:  # reuse a published code for another kind of behaviour
        overrides["category"] = Category.objects.get(code="volunteering").pk
        Behaviour.objects.filter(version=draft, code="library-loan").delete()
    before = Behaviour.objects.filter(version=draft).count()
    response = editor.post(reverse("office:behaviour_new", args=[draft.number]), form_data(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Behaviour.objects.filter(version=draft).count() == before


def test_removing_a_behaviour_from_the_draft(editor, library):
    draft = start_draft(editor)
    editor.post(reverse("office:behaviour_remove", args=[draft.number, "library-loan"]))
    assert not draft.behaviours.exists()
    response = editor.post(reverse("office:catalogue_publish", args=[draft.number]), {"reason": "empty"}, follow=True)
    assert "at least one behaviour" in response.content.decode()


@pytest.mark.parametrize(("role", "reads"), [("reviewer", True), ("auditor", True), ("partner_manager", False)])
def test_only_catalogue_editors_change_the_catalogue(client, library, role, reads):
    client.force_login(UserFactory(roles=[role], mfa=True))
    assert client.post(reverse("office:catalogue_draft")).status_code == 403
    assert not CatalogueVersion.objects.filter(status="draft").exists()
    assert client.get(reverse("office:catalogue")).status_code == (200 if reads else 403)
    assert not LedgerEntry.objects.exists()
