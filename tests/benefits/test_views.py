import pytest
from django.urls import reverse

from benefits.models import Benefit, Redemption, RedemptionToken
from benefits.services.tokens import token_issue
from tests.factories import BenefitFactory, ResidentFactory, UserFactory, place_in_tier, tier

pytestmark = pytest.mark.django_db


def test_public_catalogue_shows_what_each_tier_unlocks(client, benefit):
    gym = BenefitFactory(title_en="Half-price gym", min_tier=tier("very-good"))
    page = client.get(reverse("benefits:index")).content.decode()
    assert benefit.title_en in page and gym.title_en in page
    positions = [page.index(text) for text in ("Getting started", benefit.title_en, "Very good", gym.title_en)]
    assert positions == sorted(positions)


def test_a_resident_sees_what_their_tier_unlocks_and_what_the_next_adds(client, resident, benefit):
    library = BenefitFactory(title_en="Deposit-free loans", min_tier=tier("good"))
    gym = BenefitFactory(title_en="Half-price gym", min_tier=tier("very-good"))
    top = BenefitFactory(title_en="Boat tour", min_tier=tier("excellent"))
    client.force_login(resident.user)
    context = client.get(reverse("benefits:index")).context
    mine = context["mine"]
    assert set(mine.unlocked) == {benefit, library}
    assert mine.next_tier.code == "very-good" and mine.next_adds == [gym]
    assert mine.later == [top]


def test_paused_benefits_are_not_listed(client, benefit):
    Benefit.objects.filter(pk=benefit.pk).update(is_active=False)
    assert benefit.title_en not in client.get(reverse("benefits:index")).content.decode()


def test_detail_page_offers_use_only_when_the_tier_unlocks_it(client, resident, benefit):
    client.force_login(resident.user)
    detail = reverse("benefits:benefit", args=[benefit.pk])
    assert reverse("benefits:use", args=[benefit.pk]) in client.get(detail).content.decode()
    Benefit.objects.filter(pk=benefit.pk).update(min_tier=tier("excellent"))
    page = client.get(reverse("benefits:benefit", args=[benefit.pk])).content.decode()
    assert reverse("benefits:use", args=[benefit.pk]) not in page
    assert "Your tier does not unlock this benefit yet." in page


def test_use_page_shows_a_qr_and_a_short_code_without_inline_script(client, resident, benefit):
    client.force_login(resident.user)
    response = client.get(reverse("benefits:use", args=[benefit.pk]))
    token = RedemptionToken.objects.get()
    page = response.content.decode()
    assert f"{token.code[:4]}-{token.code[4:]}" in page
    assert 'src="data:image/png;base64,' in page
    assert "<script>" not in page and 'style="' not in page


def test_counter_flow_by_short_code(client, resident, benefit, cashier):
    token = token_issue(resident=resident, benefit=benefit).token
    client.force_login(cashier.user)
    assert client.get(reverse("benefits:counter")).status_code == 200

    scanned = client.post(reverse("benefits:counter-verify"), {"code": token.code})
    assert scanned.status_code == 200
    page = scanned.content.decode()
    assert benefit.title_en in page and "W. (initial only)" in page and "Good" in page
    assert resident.given_name not in page and resident.user.email not in page

    form = scanned.context["form"]
    answer = {"code": form["code"].value(), "nonce": form["nonce"].value()}
    done = client.post(reverse("benefits:counter-confirm"), answer)
    assert done.status_code == 200 and "Redeemed" in done.content.decode()
    again = client.post(reverse("benefits:counter-confirm"), answer)
    assert again.status_code == 200  # a double tap answers as the first time
    assert Redemption.objects.count() == 1

    refused = client.post(reverse("benefits:counter-verify"), {"code": token.code})
    assert refused.status_code == 409 and "already been used" in refused.content.decode()


def test_counter_is_for_partner_staff_only(client, resident):
    client.force_login(resident.user)
    assert client.get(reverse("benefits:counter")).status_code == 403
    client.logout()
    assert client.get(reverse("benefits:counter")).status_code == 302


def test_merchant_history_totals_and_csv(client, resident, benefit, cashier):
    from benefits.services.redemptions import redemption_confirm

    payload = token_issue(resident=resident, benefit=benefit).payload
    redemption_confirm(acting_user=cashier.user, text=payload, nonce="history-0001")
    other = ResidentFactory(given_name="Ann")
    place_in_tier(other, "good")
    redemption_confirm(
        acting_user=cashier.user, text=token_issue(resident=other, benefit=benefit).payload, nonce="history-0002"
    )
    client.force_login(cashier.user)
    response = client.get(reverse("benefits:counter-redemptions"))
    totals = response.context["totals"]
    assert (totals.today, totals.this_month) == (2, 2)
    assert totals.by_benefit[0]["today"] == 2

    csv = client.get(reverse("benefits:counter-redemptions-csv"))
    lines = csv.content.decode("utf-8-sig").strip().splitlines()
    assert lines[0].startswith("Redeemed at,Benefit") and len(lines) == 3
    assert {line.split(",")[5] for line in lines[1:]} == {"W.", "A."}


def test_resident_history_lists_their_own_redemptions_only(client, resident, benefit, cashier):
    from benefits.services.redemptions import redemption_confirm

    redemption_confirm(
        acting_user=cashier.user, text=token_issue(resident=resident, benefit=benefit).payload, nonce="mine-000001"
    )
    stranger = UserFactory()
    client.force_login(resident.user)
    assert benefit.title_en in client.get(reverse("benefits:used")).content.decode()
    client.force_login(stranger)
    assert client.get(reverse("benefits:used")).status_code == 302  # not joined: to the join page


def test_the_tier_benefits_tag_lists_what_each_tier_adds_in_one_query(django_assert_num_queries, benefit):
    from django.template import Context, Template

    gym = BenefitFactory(title_en="Half-price gym", min_tier=tier("very-good"))
    template = Template(
        "{% load benefits_tags %}{% for t in tiers %}{% tier_benefits t as unlocked %}"
        "{{ t.code }}:{% for b in unlocked %}{{ b.title_en }};{% endfor %}|{% endfor %}"
    )
    tiers = [tier("getting-started"), tier("good"), tier("very-good")]
    with django_assert_num_queries(1):
        text = template.render(Context({"tiers": tiers}))
    assert text == f"getting-started:{benefit.title_en};|good:|very-good:{gym.title_en};|"


def test_the_public_tier_page_lists_what_each_tier_unlocks(client, benefit):
    gym = BenefitFactory(title_en="Half-price gym", min_tier=tier("very-good"))
    page = client.get(reverse("tiers")).content.decode()
    positions = [page.index(text) for text in ("Getting started", benefit.title_en, "Very good", gym.title_en)]
    assert positions == sorted(positions)
    assert reverse("benefits:benefit", args=[gym.pk]) in page
