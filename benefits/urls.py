from django.urls import include, path

from benefits import views

app_name = "benefits"

urlpatterns = [
    path("benefits/", views.catalogue, name="index"),
    path("benefits/used/", views.history, name="used"),
    path("benefits/<int:pk>/", views.detail, name="benefit"),
    path("benefits/<int:pk>/use/", views.use, name="use"),
    path("counter/", views.scan, name="counter"),
    path("counter/verify/", views.verify, name="counter-verify"),
    path("counter/confirm/", views.confirm, name="counter-confirm"),
    path("counter/redemptions/", views.merchant_history, name="counter-redemptions"),
    path("counter/redemptions.csv", views.merchant_history_csv, name="counter-redemptions-csv"),
    path("api/", include("benefits.api.urls")),
]
