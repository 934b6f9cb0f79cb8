"""Integrations with other frameworks: Celery workers (:mod:`.celery`), Django (:mod:`.django`)."""
