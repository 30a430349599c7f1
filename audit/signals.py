from django.dispatch import Signal

# Sent with `verdict` (audit.verify.Verdict) when the nightly check finds the chain
# broken. The teams app connects the alert to administrators and supervisors, since
# the audit app knows nothing of people and roles.
chain_broken = Signal()
