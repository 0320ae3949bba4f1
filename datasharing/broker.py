"""The embedded broker: kombu's filesystem transport, safe with several producers and consumers.

kombu 5.x's filesystem channel publishes by opening the message's final `*.<queue>.msg` name and
then writing into it; a consumer that lists the folder in between takes the still-empty file, fails
to decode it and the message is lost (a Celery worker even stops: celery/kombu#1551). It claims a
message by moving it to the system's temporary folder, which on another file system is a copy
that two consumers can both make.

Here a message is written under a temporary name in the same folder (which never matches
`*.<queue>.msg`), flushed to disk and renamed into place, so a `*.msg` file is always complete. A
consumer claims a message by renaming it into `processed_folder` (same file system: the rename is
atomic and exactly one consumer wins), reads it there and deletes it unless `store_processed`.

Settings select this transport for `filesystem://` broker URLs (`CELERY_BROKER_TRANSPORT`).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from queue import Empty
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

TRANSPORT = "datasharing.broker:Transport"


class Channel(filesystem.Channel):
    """kombu's filesystem channel with atomic publishing and claiming (see the module)."""

    # The signature of kombu's filesystem channel (its base class declares `message` instead).
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        # kombu's name: consumers take messages in name order, oldest first.
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        folder = Path(self.data_folder_out)
        # Leading dot: `name.partition(".")[2]` is not `<queue>.msg`, so no consumer sees it.
        temporary = folder / f".{name}.tmp"
        try:
            with open(temporary, "xb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
                handle.flush()
                os.fsync(handle.fileno())
            os.rename(temporary, folder / name)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise ChannelError(f"Cannot add message {name!r} to {folder}") from exc

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        wanted = f"{queue}.msg"
        inbox = Path(self.data_folder_in)
        # Must be on the same file system as the queue folder (a rename claims the message).
        claimed_folder = Path(self.processed_folder)
        for name in sorted(os.listdir(inbox)):
            if name.partition(".")[2] != wanted:
                continue
            claimed = claimed_folder / name
            try:
                os.rename(inbox / name, claimed)
            except FileNotFoundError:
                continue  # another consumer claimed it first
            except OSError as exc:
                raise ChannelError(f"Cannot claim message {name!r} from {inbox}") from exc
            try:
                payload = claimed.read_bytes()
                if not self.store_processed:
                    claimed.unlink()
            except OSError as exc:
                raise ChannelError(f"Cannot read message {claimed}") from exc
            return loads(bytes_to_str(payload))
        raise Empty()


class Transport(filesystem.Transport):
    Channel = Channel
