"""Celery worker liveness: heartbeats and canary tasks from each worker, one judgement of them
(`liveness`), and what reads them (`selectors`, `/healthz`, `make run`'s supervisor)."""
