"""The security checklist as a CrossGuard policy pack; the rules live in `policies.rules`."""
