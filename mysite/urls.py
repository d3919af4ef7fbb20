from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from throttle.limits import client, limited, posted

urlpatterns = [
    # The admin's log-in counts against the same limits as the site's (django-axes locks both).
    path("admin/login/", limited("login", client=client, account=posted("username"))(admin.site.login)),
    path("admin/", admin.site.urls),
    path("reports/", include("reports.urls")),
    path("images/", include("images.urls")),
    path("", include("accounts.urls")),
    path("", include("operations.urls")),
]

# Development only: the mail pages (outbox rendered, every e-mail template previewed). Not routed when DEBUG is off.
if settings.DEBUG:
    urlpatterns += [path("dev/mail/", include("notifications.dev_urls"))]
