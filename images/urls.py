from django.urls import path

from images import views

app_name = "images"
urlpatterns = [
    path("", views.picture, name="picture"),
    path("upload/", views.upload, name="upload"),
    path("status/", views.status, name="status"),
    path("<int:pk>-<slug:key>/<int:size>/", views.derived, name="derived"),
]
