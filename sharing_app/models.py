"""The sharing app's models, defined in its areas (Django loads models from `<app>.models`)."""

from sharing_app.destinations.models import AllowedDestination
from sharing_app.presign.models import Presign
from sharing_app.push.models import PushFile, PushJob

__all__ = ["AllowedDestination", "Presign", "PushFile", "PushJob"]
