from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts import views
from accounts.forms import SensitivePasswordResetForm

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/signup/sent/", views.signup_sent, name="signup_sent"),
    path("accounts/signup/confirm/<uidb64>/<token>/", views.confirm, name="signup_confirm"),
    path(
        "accounts/password_reset/",
        auth_views.PasswordResetView.as_view(form_class=SensitivePasswordResetForm),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
]
