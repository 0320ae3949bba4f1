from django.apps import AppConfig


class SharingAppConfig(AppConfig):
    name = "sharing_app"
    verbose_name = "Sharing"

    def ready(self) -> None:
        from datasharing import jobs
        from sharing_app.push.lifecycle import PUSH_JOB_KIND

        # Stuck pushes (the one reaper, beat): files of lost workers are handed out again, pushes
        # without progress resumed, and failed when resuming does not help.
        jobs.register_job_kind(PUSH_JOB_KIND)
