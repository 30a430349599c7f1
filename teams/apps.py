from django.apps import AppConfig


class TeamsConfig(AppConfig):
    name = "teams"
    verbose_name = "People and teams"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from teams import signals

        post_migrate.connect(signals.apply_policy_to_all_teams, sender=self)
