from django.urls import include, path
from rest_framework.routers import DefaultRouter

from casework.api import CaseNoteViewSet, CaseViewSet, SuperviseeViewSet
from teams.api import ObtainTokenView, TeamViewSet
from victims.api import VictimViewSet

router = DefaultRouter()
router.register("teams", TeamViewSet, basename="team")
router.register("cases", CaseViewSet, basename="case")
router.register("supervisees", SuperviseeViewSet, basename="supervisee")
router.register("notes", CaseNoteViewSet, basename="note")
router.register("victims", VictimViewSet, basename="victim")

urlpatterns = [
    path("auth/token/", ObtainTokenView.as_view(), name="api-token"),
    path("", include(router.urls)),
]
