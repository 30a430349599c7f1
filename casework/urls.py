from django.urls import path, re_path

from casework import (
    agenda_views,
    case_update_views,
    decision_views,
    duty_to_warn_views,
    emergency_views,
    meeting_views,
    supervisor_queue,
    views,
)

urlpatterns = [
    path("cases/", views.case_list, name="case-list"),
    path("cases/<int:pk>/", views.case_detail, name="case-detail"),
    path("cases/<int:pk>/edit/", case_update_views.case_edit, name="case-edit"),
    path("cases/<int:pk>/notes/new/", views.note_create, name="note-create"),
    path("notes/<int:pk>/level/", views.note_level, name="note-level"),
    path("notes/<int:pk>/audience/", views.note_audience, name="note-audience"),
    path("decisions/<int:pk>/audience/", views.decision_audience, name="decision-audience"),
]


urlpatterns += [
    path("supervision/queue/", supervisor_queue.queue_page, name="supervisor-queue"),
    path("emergency-access/", emergency_views.start, name="emergency-start"),
    path("emergency-access/review/", emergency_views.review_queue, name="emergency-queue"),
    path("emergency-access/<int:pk>/review/", emergency_views.review, name="emergency-review"),
]


urlpatterns += [
    path(
        "cases/<int:pk>/duty-to-warn/new/",
        duty_to_warn_views.file_report,
        name="duty-to-warn-create",
    ),
    path("duty-to-warn/<int:pk>/", duty_to_warn_views.report_detail, name="duty-to-warn-detail"),
    path(
        "duty-to-warn/<int:pk>/received/",
        duty_to_warn_views.report_receipt,
        name="duty-to-warn-receipt",
    ),
]


urlpatterns += [
    path("cases/<int:pk>/decisions/new/", decision_views.decision_create, name="decision-create"),
    path("decisions/<int:pk>/", decision_views.decision_detail, name="decision-detail"),
    path("decisions/<int:pk>/edit/", decision_views.decision_edit, name="decision-edit"),
    re_path(
        r"^decisions/(?P<pk>\d+)/(?P<action>propose|approve|return|finalise|withdraw)/$",
        decision_views.decision_transition,
        name="decision-transition",
    ),
]


urlpatterns += [
    path("meetings/<int:pk>/agenda/add/", agenda_views.add_case, name="agenda-add-case"),
    path("agenda-items/<int:pk>/minutes/", agenda_views.item_minutes, name="agenda-item-minutes"),
    path("agenda-items/<int:pk>/actions/", agenda_views.item_action, name="agenda-item-action"),
    path("action-items/<int:pk>/done/", agenda_views.action_done, name="agenda-action-done"),
]


# Review meetings (issue 7): casework.meeting_views.
urlpatterns += [
    path("meetings/", meeting_views.meeting_list, name="meeting-list"),
    path("meetings/new/", meeting_views.meeting_create, name="meeting-create"),
    path("meetings/series/new/", meeting_views.series_create, name="meeting-series-create"),
    path("meetings/series/<int:pk>/end/", meeting_views.series_end, name="meeting-series-end"),
    path("meetings/<int:pk>/", meeting_views.meeting_detail, name="meeting-detail"),
    path("meetings/<int:pk>/edit/", meeting_views.meeting_edit, name="meeting-edit"),
    path("meetings/<int:pk>/cancel/", meeting_views.meeting_cancel, name="meeting-cancel"),
    path("meetings/<int:pk>/rsvp/", meeting_views.meeting_rsvp, name="meeting-rsvp"),
    path(
        "meetings/<int:pk>/attendance/", meeting_views.meeting_attendance, name="meeting-attendance"
    ),
    path("meetings/<int:pk>/invite.ics", meeting_views.meeting_ics, name="meeting-ics"),
]
