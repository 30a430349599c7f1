from django.urls import include, path
from rest_framework.routers import DefaultRouter

from audit.api import AuditEventViewSet
from casework.agenda_api import register as register_agenda
from casework.api import register as register_casework
from casework.collaboration_api import CollaborationMeasuresView
from casework.meeting_api import register as register_meetings
from casework.supervisor_queue import SupervisorQueueView
from teams.api import ObtainTokenView, TeamViewSet
from teams.guide_api import register as register_guide
from teams.notification_api import register as register_notifications
from teams.preference_api import NotificationPreferencesView
from victims.api import register as register_victims

router = DefaultRouter()
router.register("teams", TeamViewSet, basename="team")
register_casework(router)
register_agenda(router)
register_meetings(router)
register_victims(router)
register_notifications(router)
register_guide(router)
router.register("audit-events", AuditEventViewSet, basename="audit-event")

urlpatterns = [
    path("auth/token/", ObtainTokenView.as_view(), name="api-token"),
    path("supervisor-queue/", SupervisorQueueView.as_view(), name="supervisor-queue"),
    path(
        "collaboration-measures/",
        CollaborationMeasuresView.as_view(),
        name="collaboration-measures",
    ),
    path(
        "notification-preferences/",
        NotificationPreferencesView.as_view(),
        name="notification-preferences",
    ),
    path("", include(router.urls)),
]
