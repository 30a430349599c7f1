from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from casework import views as casework_views
from config import health
from teams import notification_views, preference_views

urlpatterns = [
    path("", casework_views.dashboard, name="dashboard"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("casework.urls")),
    path("", include("victims.urls")),
    path("", include("teams.urls")),
    path("audit/", include("audit.urls")),
    path("notifications/", notification_views.inbox, name="notifications"),
    path(
        "notifications/preferences/",
        preference_views.preferences_page,
        name="notification-preferences",
    ),
    path(
        "notifications/<int:pk>/open/",
        notification_views.open_notification,
        name="notification-open",
    ),
    path("healthz/", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(("config.api_urls", "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]
