from django.urls import path

from operations import views

app_name = "operations"
urlpatterns = [
    path("operations/", views.operations_page, name="page"),
    path("operations/test-email/", views.test_email, name="test_email"),
    path("health/", views.health_view, name="health"),
    path("metrics", views.metrics_view, name="metrics"),
]
