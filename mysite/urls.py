from django.conf import settings
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("reports/", include("reports.urls")),
    path("", include("accounts.urls")),
    path("", include("operations.urls")),
]

# Development only: the mail pages (outbox rendered, every e-mail template previewed). Not routed when DEBUG is off.
if settings.DEBUG:
    urlpatterns += [path("dev/mail/", include("notifications.dev_urls"))]
