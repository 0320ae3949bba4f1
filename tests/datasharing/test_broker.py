"""The embedded broker (datasharing/broker.py): kombu's filesystem transport without the
lost-message race of celery/kombu#1551, and the one Celery uses for `filesystem://` URLs."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from queue import Empty

from kombu import Connection

from datasharing.broker import TRANSPORT

# Not imported from tests.conftest: producer processes import this module afresh, without Django.
ROOT = Path(__file__).resolve().parents[2]

PRODUCERS = 2
MESSAGES_PER_PRODUCER = 1500
# kombu keeps queue bindings per process (not per folder): every test has its own queue name.
QUEUE = "race"


def transport_options(root: Path) -> dict[str, object]:
    return {
        "data_folder_in": str(root / "queue"),
        "data_folder_out": str(root / "queue"),
        "processed_folder": str(root / "processed"),
        "control_folder": str(root / "control"),
        "store_processed": False,
    }


def broker_folder(root: Path) -> Path:
    for folder in ("queue", "processed", "control"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    return root


def connection(root: Path) -> Connection:
    return Connection(
        "filesystem://", transport=TRANSPORT, transport_options=transport_options(root)
    )


def produce(root: str, producer: int, count: int) -> None:
    """A producer process: `count` messages numbered from 0."""
    with connection(Path(root)) as conn:
        queue = conn.SimpleQueue(QUEUE)
        for sequence in range(count):
            queue.put({"producer": producer, "sequence": sequence})
        queue.close()


def test_concurrent_producers_and_a_tight_consumer_lose_nothing(tmp_path: Path) -> None:
    root = broker_folder(tmp_path)
    # Fresh interpreters (not forks of the test process): producers as separate programs.
    context = multiprocessing.get_context("spawn")
    producers = [
        context.Process(target=produce, args=(str(root), number, MESSAGES_PER_PRODUCER))
        for number in range(PRODUCERS)
    ]
    received: Counter[tuple[int, int]] = Counter()
    unreadable = 0
    with connection(root) as conn:
        queue = conn.SimpleQueue(QUEUE)
        for process in producers:
            process.start()
        idle_after_producers = 0
        # As fast as it can: a consumer that lists the folder while producers write into it.
        while idle_after_producers < 3:
            try:
                message = queue.get(block=False)
            except Empty:
                if not any(process.is_alive() for process in producers):
                    idle_after_producers += 1
                continue
            except ValueError:  # kombu's race: an empty or partial file (JSONDecodeError)
                unreadable += 1
                continue
            received[(message.payload["producer"], message.payload["sequence"])] += 1
            message.ack()
        queue.close()
    assert [process.exitcode for process in producers] == [0] * PRODUCERS

    expected = {(p, s) for p in range(PRODUCERS) for s in range(MESSAGES_PER_PRODUCER)}
    assert unreadable == 0
    assert set(received) == expected  # none lost
    assert max(received.values()) == 1  # none delivered twice
    assert os.listdir(root / "queue") == [] and os.listdir(root / "processed") == []


def test_a_message_being_written_is_invisible_and_a_message_is_claimed_once(
    tmp_path: Path,
) -> None:
    root = broker_folder(tmp_path)
    with connection(root) as first, connection(root) as second:
        first_queue, second_queue = first.SimpleQueue("claims"), second.SimpleQueue("claims")
        # What a producer holds while it writes: a temporary name in the same folder.
        (root / "queue" / ".1_abc.claims.msg.tmp").write_bytes(b"")
        assert first_queue.qsize() == 0
        second_queue.put({"n": 1})
        assert first_queue.qsize() == 1
        assert first_queue.get(block=False).payload == {"n": 1}
        for queue in (first_queue, second_queue):
            try:
                queue.get(block=False)
            except Empty:
                continue
            raise AssertionError("a message was delivered twice")
        first_queue.close()
        second_queue.close()


def test_celery_uses_it_for_filesystem_urls_with_fast_polling_and_the_threads_pool(
    tmp_path: Path,
) -> None:
    """In a fresh process configured as `make run` configures its worker."""
    script = (
        "import json;"
        "from datasharing.celery import app;"
        "conn = app.connection_for_write();"
        "transport = type(conn.transport);"
        "print(json.dumps({"
        "'transport': transport.__module__ + ':' + transport.__name__,"
        "'polling_interval': conn.transport.polling_interval,"
        "'pool': app.conf.worker_pool,"
        "'concurrency': app.conf.worker_concurrency,"
        "'worker_direct': app.conf.worker_direct}))"
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CELERY_", "DATABASE_", "WORKER_"))
    }
    env.update(VAR_DIR=str(tmp_path), LOCAL_ENV_FILE="", CELERY_BROKER_URL="filesystem://")
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "transport": TRANSPORT,
        "polling_interval": 0.02,
        "pool": "threads",
        "concurrency": 4,
        "worker_direct": True,
    }
