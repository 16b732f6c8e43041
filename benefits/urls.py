from django.urls import include, path

from benefits import views

app_name = "benefits"

urlpatterns = [
    path("benefits/", views.catalogue, name="catalogue"),
    path("benefits/used/", views.history, name="history"),
    path("benefits/<int:pk>/", views.detail, name="detail"),
    path("benefits/<int:pk>/use/", views.use, name="use"),
    path("counter/", views.scan, name="scan"),
    path("counter/verify/", views.verify, name="verify"),
    path("counter/confirm/", views.confirm, name="confirm"),
    path("counter/redemptions/", views.merchant_history, name="merchant-history"),
    path("counter/redemptions.csv", views.merchant_history_csv, name="merchant-history-csv"),
    path("api/", include("benefits.api.urls")),
]
