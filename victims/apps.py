from django.apps import AppConfig


class VictimsConfig(AppConfig):
    name = "victims"
    verbose_name = "Victim services"

    def ready(self) -> None:
        from casework.panels import register
        from victims.selectors import case_victims_panel

        register(case_victims_panel)
