from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from django.core.signals import request_finished
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate, pre_migrate

        from audit.database import install_after_migrate, uninstall_before_migrate
        from audit.sqlite import register_functions, unbind_after_request

        # post_migrate is sent once the whole migrate run is over, so every audited table
        # exists; the handler is idempotent, and so safe on every `migrate`.
        post_migrate.connect(install_after_migrate, sender=self, dispatch_uid="audit-triggers")
        pre_migrate.connect(
            uninstall_before_migrate, sender=self, dispatch_uid="audit-triggers-aside"
        )
        # SQLite's triggers call Python functions that each connection must carry.
        connection_created.connect(register_functions, dispatch_uid="audit-sqlite-functions")
        request_finished.connect(unbind_after_request, dispatch_uid="audit-sqlite-unbind")
