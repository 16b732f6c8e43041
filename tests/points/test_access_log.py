"""The access log: residents see which staff roles opened their file, and when; never who."""

import pytest
from django.urls import reverse

from citizenpoints.models import AuditEvent, OfficeRole
from citizenpoints.services.access import resident_file_open
from citizenpoints.services.permissions import PermissionRefused
from tests.factories import ResidentFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_opening_a_file_is_audited_with_the_roles(client):
    resident = ResidentFactory()
    staff = UserFactory(email="li.reviewer@office.example", roles=[OfficeRole.REVIEWER, OfficeRole.AUDITOR], mfa=True)
    event = resident_file_open(acting_user=staff, resident=resident)
    assert (event.actor, event.action, event.object_id) == (staff, "resident.view", str(resident.pk))
    assert event.after == {"roles": ["auditor", "reviewer"]}

    client.force_login(resident.user)
    page = client.get(reverse("rights_access")).content.decode()
    assert "Auditor, Reviewer" in page
    assert "li.reviewer" not in page and "office.example" not in page


def test_roles_are_shown_as_they_were_then():
    resident = ResidentFactory()
    staff = UserFactory(roles=[OfficeRole.REVIEWER], mfa=True)
    resident_file_open(acting_user=staff, resident=resident)
    staff.groups.clear()
    assert AuditEvent.objects.get(action="resident.view").after == {"roles": ["reviewer"]}


def test_only_office_staff_may_open_a_file():
    resident = ResidentFactory()
    for someone in (ResidentFactory().user, UserFactory()):
        with pytest.raises(PermissionRefused):
            resident_file_open(acting_user=someone, resident=resident)
    assert not AuditEvent.objects.exists()


def test_the_admin_logs_opening_a_residents_page(client):
    resident = ResidentFactory()
    admin = UserFactory(is_staff=True, is_superuser=True, mfa=True)
    client.force_login(admin)
    assert client.get(reverse("admin:citizenpoints_resident_change", args=[resident.pk])).status_code == 200
    event = AuditEvent.objects.get(action="resident.view")
    assert event.actor == admin and event.after == {"roles": ["administrator"]}
    client.force_login(resident.user)
    assert "System administrator" in client.get(reverse("rights_access")).content.decode()


def test_an_empty_log_says_so(client):
    resident = ResidentFactory()
    client.force_login(resident.user)
    assert "Nobody at the credit office has opened your file." in client.get(reverse("rights_access")).content.decode()
