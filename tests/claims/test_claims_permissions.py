"""Each role against each claims screen and action, refusals included (the views' first check; the services check
again, tested in test_claim_services)."""

import pytest
from django.urls import reverse

from citizenpoints.models import Claim, LedgerEntry, OfficeRole
from tests.claims.test_claim_services import file_claim
from tests.factories import ResidentFactory, UserFactory

pytestmark = pytest.mark.django_db

REASON = {"reason": "The photo does not show the act described.", "note": ""}
# who -> (queue, detail, approve, reject, photo): HTTP status (302 for the sign-in redirect)
MATRIX = {
    "reviewer": (200, 200, 302, 302, 200),
    "auditor": (200, 200, 403, 403, 200),
    "catalogue_editor": (403, 403, 403, 403, 404),
    "partner_manager": (403, 403, 403, 403, 404),
    "data_source_manager": (403, 403, 403, 403, 404),
    "superuser": (200, 200, 302, 302, 200),
    "owner": (403, 403, 403, 403, 200),
    "other_resident": (403, 403, 403, 403, 404),
    "anonymous": (302, 302, 302, 302, 302),
}


def _user(who, owner):
    if who == "anonymous":
        return None
    if who == "owner":
        return owner.user
    if who == "other_resident":
        return ResidentFactory().user
    if who == "superuser":
        return UserFactory(is_superuser=True, is_staff=True, mfa=True)
    return UserFactory(roles=[OfficeRole(who)], mfa=True)


@pytest.mark.parametrize("who", MATRIX)
def test_claims_permission_matrix(client, catalogue, who):
    owner = ResidentFactory()
    claim = file_claim(owner)
    photo = claim.photos.get()
    user = _user(who, owner)
    if user is not None:
        client.force_login(user)
    queue, detail, approve, reject, image = MATRIX[who]

    assert client.get(reverse("office:claims")).status_code == queue
    assert client.get(reverse("office:claim", args=[claim.pk])).status_code == detail
    assert client.get(reverse("evidence_photo", args=[photo.pk])).status_code == image
    # Decisions last: the reviewer's approval would change what the reject attempt finds.
    assert client.post(reverse("office:claim_reject", args=[claim.pk]), REASON).status_code == reject
    claim.refresh_from_db()
    assert claim.status == (Claim.Status.REJECTED if reject == 302 and user is not None else Claim.Status.PENDING)
    other = file_claim(owner, occurred_at=claim.occurred_at.replace(minute=(claim.occurred_at.minute + 1) % 60))
    assert client.post(reverse("office:claim_approve", args=[other.pk]), REASON).status_code == approve
    awarded = LedgerEntry.objects.filter(external_id=f"claim:{other.pk}").exists()
    assert awarded == (approve == 302 and user is not None)
