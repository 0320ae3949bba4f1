from sharing_app.presign_models import *  # noqa: F403
