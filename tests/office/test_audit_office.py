import pytest
from django.urls import reverse

from citizenpoints.models import AuditEvent, DataSource
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_staff_actions_carry_the_client_ip_and_the_auditor_finds_and_exports_them(client):
    manager = UserFactory(email="dsm@office.gov", roles=["data_source_manager"], mfa=True)
    client.force_login(manager)
    client.post(
        reverse("office:source_new"),
        {"code": "metro", "name_en": "Metro", "name_zh": "地铁", "is_active": "on"},
        REMOTE_ADDR="203.0.113.7",
    )
    event = AuditEvent.objects.get(action="data_source.create")
    assert (event.actor, event.ip_address) == (manager, "203.0.113.7")

    client.force_login(UserFactory(roles=["auditor"], mfa=True))
    page = client.get(reverse("office:audit"), {"actor": "dsm@", "action": "data_source"}).content.decode()
    assert "data_source.create" in page and "203.0.113.7" in page
    assert "No events match" in client.get(reverse("office:audit"), {"action": "nothing-like-this"}).content.decode()
    export = b"".join(client.get(reverse("office:audit_export"), {"action": "data_source"}).streaming_content)
    lines = export.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("at,actor,action") and "dsm@office.gov,data_source.create" in lines[1]


@pytest.mark.parametrize("role", ["data_source_manager", "reviewer", "catalogue_editor", None])
def test_only_auditors_read_the_trail(client, role):
    client.force_login(UserFactory(roles=[role] if role else [], mfa=True))
    assert client.get(reverse("office:audit")).status_code == 403
    assert client.get(reverse("office:audit_export")).status_code == 403
    assert DataSource.objects.filter(kind="department").count() == 0


@pytest.mark.parametrize(
    ("name", "query"),
    [("office:audit", {"since": "2026-11-01"}), ("office:claims", {"filed_from": "2026-11-01"})],
)
def test_date_filters_keep_their_value_in_chinese(client, name, query):
    """A date picker shows only an ISO value: a localised "2026年11月1日" would come back blank."""
    client.force_login(UserFactory(roles=["auditor", "reviewer"], mfa=True))
    client.cookies["django_language"] = "zh-hans"
    page = client.get(reverse(name), query).content.decode()
    assert 'value="2026-11-01"' in page


def test_the_pager_keeps_the_filters(client):
    AuditEvent.objects.bulk_create(
        AuditEvent(action="data_source.update", object_type="x", object_id=str(n)) for n in range(120)
    )
    client.force_login(UserFactory(roles=["auditor"], mfa=True))
    page = client.get(reverse("office:audit"), {"action": "data_source"}).content.decode()
    assert 'href="?action=data_source&amp;page=2"' in page
    second = client.get(reverse("office:audit"), {"action": "data_source", "page": 2}).content.decode()
    assert 'href="?action=data_source&amp;page=1"' in second
