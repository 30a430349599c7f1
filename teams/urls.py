from django.urls import path

from teams import glossary_views, role_card_views

urlpatterns = [
    path("glossary/", glossary_views.glossary_page, name="glossary"),
    path("glossary/new/", glossary_views.term_create, name="glossary-term-create"),
    path("glossary/<int:pk>/edit/", glossary_views.term_edit, name="glossary-term-edit"),
    path("roles/", role_card_views.role_card_list, name="role-cards"),
    path("roles/<slug:role>/", role_card_views.role_card_page, name="role-card"),
]
