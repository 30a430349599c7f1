from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.routers import BaseRouter

from casework.api import CASE_FILTER
from teams.api_base import RestrictedReadOnlyViewSet, int_query_param
from victims import selectors
from victims.models import Victim
from victims.serializers import VictimSerializer


@extend_schema_view(list=extend_schema(parameters=[CASE_FILTER]))
class VictimViewSet(RestrictedReadOnlyViewSet):
    """Victims on the cases the signed-in user may see; `?case=<id>` narrows to one case.
    Locating information is included only for readers the disclosure policy allows."""

    base_queryset = Victim.objects.order_by("last_name", "first_name", "id")
    serializer_class = VictimSerializer

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        case_id = int_query_param(self.request, "case")
        if case_id is not None:
            queryset = queryset.filter(
                pk__in=selectors.victim_links_for(self.request.user)
                .filter(case_id=case_id)
                .values("victim_id")
            )
        return queryset

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        rows = args[0] if args else None
        if rows is not None:
            victims = rows if isinstance(rows, list) else [rows]
            kwargs.setdefault("context", self.get_serializer_context()).update(
                self._visible_parts([victim.pk for victim in victims])
            )
        return super().get_serializer(*args, **kwargs)

    def _visible_parts(self, victim_ids: list[int]) -> dict[str, Any]:
        user = self.request.user
        links: dict[int, list[Any]] = defaultdict(list)
        for link in selectors.victim_links_for(user).filter(victim_id__in=victim_ids):
            links[link.victim_id].append(link)
        locations = {
            location.victim_id: location
            for location in selectors.locations_for(user).filter(victim_id__in=victim_ids)
        }
        return {"visible_links": links, "visible_locations": locations}


def register(router: BaseRouter) -> None:
    router.register("victims", VictimViewSet, basename="victim")
