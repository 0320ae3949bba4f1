from sharing_app.presign_admin import *  # noqa: F403
