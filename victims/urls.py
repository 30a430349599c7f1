from django.urls import path

from victims import queue_views, views

urlpatterns = [
    path("victims/<int:pk>/", views.victim_detail, name="victim-detail"),
    path("victims/<int:pk>/releases/new/", views.release_create, name="release-create"),
    path("releases/<int:pk>/revoke/", views.release_revoke, name="release-revoke"),
    path("cases/<int:pk>/victim-input/new/", views.victim_input_create, name="victim-input-create"),
    path("victim-input/<int:pk>/level/", views.victim_input_level, name="victim-input-level"),
    path("victim-services/queue/", queue_views.queue, name="victim-queue"),
    path(
        "victim-services/input-requests/<int:pk>/answer/",
        queue_views.input_request_answer,
        name="input-request-answer",
    ),
]
