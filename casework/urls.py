from django.urls import path

from casework import views

urlpatterns = [
    path("cases/", views.case_list, name="case-list"),
    path("cases/<int:pk>/", views.case_detail, name="case-detail"),
    path("cases/<int:pk>/notes/new/", views.note_create, name="note-create"),
    path("notes/<int:pk>/level/", views.note_level, name="note-level"),
    path("notes/<int:pk>/audience/", views.note_audience, name="note-audience"),
    path("decisions/<int:pk>/audience/", views.decision_audience, name="decision-audience"),
]

from casework import emergency_views  # noqa: E402  (kept apart from the case pages)

urlpatterns += [
    path("emergency-access/", emergency_views.start, name="emergency-start"),
    path("emergency-access/review/", emergency_views.review_queue, name="emergency-queue"),
    path("emergency-access/<int:pk>/review/", emergency_views.review, name="emergency-review"),
]
