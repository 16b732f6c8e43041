import pytest

from benefits.demo import benefits_demo_load
from benefits.models import Benefit
from tests.factories import MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_demo_benefits_load_once_at_different_tiers():
    MerchantFactory(slug="west-lake-bikes", name_en="West Lake Bike Hire")
    manager = UserFactory(roles=["partner_manager"])

    created = benefits_demo_load(acting_user=manager)
    again = benefits_demo_load(acting_user=manager)

    assert again == []
    assert len(created) == 6  # two partners, four benefits
    tiers = set(Benefit.objects.values_list("min_tier__code", flat=True))
    assert tiers == {"getting-started", "good", "very-good", "outstanding"}
    assert set(Benefit.objects.values_list("family", flat=True)) == {"go", "library", "fitness", "travel"}
