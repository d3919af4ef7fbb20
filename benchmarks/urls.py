from django.urls import include, path

from benchmarks import views

urlpatterns = [
    path("bench/nothing/", views.nothing),
    path("bench/outbox/", views.outbox),
    path("bench/inline/", views.inline),
    path("", include("mysite.urls")),
]
