import pytest

from tests.factories import BenefitFactory, MerchantStaffFactory, ResidentFactory, place_in_tier


@pytest.fixture
def cashier(db):
    return MerchantStaffFactory()


@pytest.fixture
def benefit(cashier):
    return BenefitFactory(merchant=cashier.merchant)


@pytest.fixture
def resident(db):
    resident = ResidentFactory(given_name="wei")
    place_in_tier(resident, "good")
    return resident
