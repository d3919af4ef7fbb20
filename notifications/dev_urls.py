"""Development mail pages; mysite.urls includes them only when DEBUG is on."""

from django.urls import path

from notifications import dev_views

app_name = "dev_mail"
urlpatterns = [
    path("", dev_views.mail_list, name="list"),
    path("outbox/<int:pk>/", dev_views.outbox_mail, name="outbox"),
    path("outbox/<int:pk>/attachments/<int:number>/", dev_views.outbox_attachment, name="outbox_attachment"),
    path("previews/<slug:slug>/", dev_views.preview_mail, name="preview"),
    path("previews/<slug:slug>/attachments/<int:number>/", dev_views.preview_attachment, name="preview_attachment"),
]
