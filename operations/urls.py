from django.urls import path

from operations import task_views, views

app_name = "operations"
urlpatterns = [
    path("operations/", views.operations_page, name="page"),
    path("operations/test-email/", views.test_email, name="test_email"),
    path("operations/tasks/", task_views.task_list, name="tasks"),
    path("operations/tasks/bulk/", task_views.task_bulk, name="tasks_bulk"),
    path("operations/tasks/<int:pk>/<slug:action>/", task_views.task_action, name="task_action"),
    path("health/", views.health_view, name="health"),
    path("metrics", views.metrics_view, name="metrics"),
]
