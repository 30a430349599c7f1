from django.urls import URLPattern

urlpatterns: list[URLPattern] = []  # victims' pages are added here
