from django.urls import path

from benefits.api import views

urlpatterns = [
    # The counter's two calls first: the resolver tries patterns in order, and they are most of the API's traffic.
    path("merchant/verify/", views.Verify.as_view(), name="api-verify"),
    path("merchant/confirm/", views.Confirm.as_view(), name="api-confirm"),
    path("benefits/", views.BenefitList.as_view(), name="api-benefit-list"),
    path("benefits/redemptions/", views.MyRedemptions.as_view(), name="api-my-redemptions"),
    path("benefits/<int:pk>/", views.BenefitDetail.as_view(), name="api-benefit-detail"),
    path("benefits/<int:pk>/token/", views.TokenIssue.as_view(), name="api-token"),
    path("benefits/<int:pk>/status/", views.BenefitStatus.as_view(), name="api-benefit-status"),
    path("merchant/redemptions/", views.MerchantRedemptions.as_view(), name="api-merchant-redemptions"),
]
