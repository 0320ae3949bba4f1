"""The sharing app's admin pages, defined in its areas (Django's admin imports `<app>.admin`)."""

from sharing_app.destinations.admin import AllowedDestinationAdmin
from sharing_app.presign.admin import PresignAdmin
from sharing_app.push.admin import PushFileAdmin, PushJobAdmin

__all__ = ["AllowedDestinationAdmin", "PresignAdmin", "PushFileAdmin", "PushJobAdmin"]
