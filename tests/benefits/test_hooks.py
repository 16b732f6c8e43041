import pytest
from django.urls import reverse

from tests.factories import MerchantStaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_partner_staff_land_on_their_counter(client):
    cashier = MerchantStaffFactory()
    client.force_login(cashier.user)
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response.url == reverse("benefits:counter")


def test_an_account_that_has_not_joined_is_still_asked_to_join(client):
    client.force_login(UserFactory())
    assert client.get(reverse("home")).url == reverse("join")
