from django.urls import path

from audit import views

urlpatterns = [
    path("", views.review_page, name="audit-review"),
    path("export.csv", views.export_csv, name="audit-export"),
]
