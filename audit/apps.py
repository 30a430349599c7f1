from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from audit.database import install_after_migrate

        # post_migrate is sent once the whole migrate run is over, so every audited table
        # exists; the handler is idempotent, and so safe on every `migrate`.
        post_migrate.connect(install_after_migrate, sender=self, dispatch_uid="audit-triggers")
