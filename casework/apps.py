from django.apps import AppConfig


class CaseworkConfig(AppConfig):
    name = "casework"
    verbose_name = "Casework"

    def ready(self) -> None:
        from audit.scopes import register_scope
        from casework.audit_scope import supervisor_scope

        # Supervisors read the audit events of their teams' cases and members.
        register_scope(supervisor_scope)

        from audit.services import register_emergency_lookup
        from casework.emergency import cases_under_emergency

        # Events produced under emergency access are marked as such in the trail.
        register_emergency_lookup(cases_under_emergency)
