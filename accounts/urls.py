from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts import views
from accounts.forms import SensitivePasswordResetForm
from throttle.limits import client, limited, posted

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/signup/sent/", views.signup_sent, name="signup_sent"),
    path("accounts/signup/confirm/<uidb64>/<token>/", views.confirm, name="signup_confirm"),
    # Django's own views, counted per client and per target before they send mail or check a password.
    path(
        "accounts/login/",
        limited("login", client=client, account=posted("username"))(auth_views.LoginView.as_view()),
        name="login",
    ),
    path(
        "accounts/password_reset/",
        limited("password_reset", client=client, address=posted("email"))(
            auth_views.PasswordResetView.as_view(form_class=SensitivePasswordResetForm)
        ),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
]
