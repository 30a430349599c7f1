from django.urls import path

from victims import (
    information_request_views,
    ledger_views,
    new_victim_report_views,
    queue_views,
    record_views,
    registration_views,
    release_views,
    views,
)

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
    path(
        "cases/<int:pk>/information-requests/new/",
        information_request_views.ask,
        name="information-request-create",
    ),
    path(
        "victim-services/information-requests/",
        information_request_views.request_list,
        name="information-request-list",
    ),
    path(
        "victim-services/information-requests/<int:pk>/",
        information_request_views.request_detail,
        name="information-request-detail",
    ),
]


urlpatterns += [
    path("releases/<int:pk>/form/", release_views.release_form_page, name="release-form"),
    path("victims/<int:pk>/ledger/", ledger_views.ledger_page, name="victim-ledger"),
]

# The victim's record on a case (victims.record_views), and the officer's acknowledgement
# of input on a pending decision.

urlpatterns += [
    path("cases/<int:pk>/victims/new/", record_views.victim_create, name="victim-create"),
    path("cases/<int:pk>/victims/link/", record_views.victim_link, name="victim-link"),
    path("victims/<int:pk>/edit/", record_views.victim_edit, name="victim-edit"),
    path(
        "victims/<int:pk>/preferences/",
        record_views.victim_preferences,
        name="victim-preferences",
    ),
    path(
        "cases/<int:pk>/protective-orders/new/",
        record_views.order_create,
        name="protective-order-create",
    ),
    path(
        "victim-input/<int:pk>/acknowledge/",
        views.victim_input_acknowledge,
        name="victim-input-acknowledge",
    ),
]

# Notification registrations and the relay queue (victims.registration_views), and
# new-victim reports (victims.new_victim_report_views).

urlpatterns += [
    path(
        "victims/<int:pk>/notification-registrations/new/",
        registration_views.registration_create,
        name="notification-registration-create",
    ),
    path(
        "notification-registrations/<int:pk>/edit/",
        registration_views.registration_edit,
        name="notification-registration-edit",
    ),
    path(
        "victim-services/notifications/",
        registration_views.notification_queue,
        name="victim-notifications",
    ),
    path(
        "victim-services/notifications/<int:pk>/relay/",
        registration_views.notification_relay,
        name="victim-notification-relay",
    ),
    path(
        "cases/<int:pk>/new-victim-reports/new/",
        new_victim_report_views.file_report,
        name="new-victim-report-create",
    ),
    path("new-victim-reports/", new_victim_report_views.report_list, name="new-victim-report-list"),
    path(
        "new-victim-reports/<int:pk>/",
        new_victim_report_views.report_detail,
        name="new-victim-report-detail",
    ),
    path(
        "new-victim-reports/<int:pk>/received/",
        new_victim_report_views.report_receipt,
        name="new-victim-report-receipt",
    ),
]
