from django.apps import AppConfig


class VictimsConfig(AppConfig):
    name = "victims"
    verbose_name = "Victim services"

    def ready(self) -> None:
        from casework.panels import register
        from teams.disclosure.queries import register_branch
        from victims import agenda_sources, information_requests, services_panel
        from victims.selectors import case_victims_panel, release_locating_branch

        register(case_victims_panel)
        register(information_requests.case_panel)
        register(services_panel.case_panel)
        register_branch("victims.VictimLocation", release_locating_branch)
        agenda_sources.register()
