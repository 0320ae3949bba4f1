"""Catalogued S3 objects kept in step with the buckets: listings, HEADs and storage events.

Only inside the allowed catalogue sources (`catalog_app.sources.policy`): a URI outside them is
refused (400 naming it) before anything is listed, and a sync of everything refreshes only what
lies inside them. Objects whose names carry control or formatting characters are never
catalogued: listings skip them with a logged warning and count them (`unsafeNamesSkipped`).
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from catalog_app.importers.base import BATCH, ImportResult
from catalog_app.models import StoredObject, WorkflowRun
from catalog_app.sources.names import unsafe_name_problem
from catalog_app.sources.policy import SourcePolicy, source_policy_load
from datasharing import s3
from datasharing.errors import DomainError

logger = logging.getLogger(__name__)


def object_values(info: s3.ObjectInfo) -> dict[str, Any]:
    return {
        "size": info.size,
        "etag": info.etag,
        "storage_class": info.storage_class,
        "restore_state": info.restore_state or "",
        "restore_expiry": info.restore_expiry or "",
        "last_modified": info.last_modified,
        "missing": False,
    }


SYNC_FIELDS = (
    "size",
    "etag",
    "storage_class",
    "restore_state",
    "restore_expiry",
    "last_modified",
    "missing",
)


def _apply_listing(
    bucket: str,
    listing: Iterable[s3.ObjectInfo],
    *,
    existing: dict[str, StoredObject],
    include: Callable[[str], bool],
    result: ImportResult,
) -> set[str]:
    """Upsert listed objects that are catalogued or accepted by `include`. Returns keys seen."""
    now = timezone.now()
    seen: set[str] = set()
    to_create: list[StoredObject] = []
    to_update: list[StoredObject] = []
    for info in listing:
        seen.add(info.key)
        values = object_values(info)
        obj = existing.get(info.key)
        if obj is None:
            if include(info.key) and _name_is_safe(bucket, info.key, result):
                to_create.append(StoredObject(bucket=bucket, key=info.key, last_seen=now, **values))
                result.count("created")
            continue
        changed = any(getattr(obj, name) != values[name] for name in SYNC_FIELDS)
        for name in SYNC_FIELDS:
            setattr(obj, name, values[name])
        obj.last_seen = now
        to_update.append(obj)
        result.count("updated" if changed else "unchanged")
        if len(to_update) >= BATCH:
            StoredObject.objects.bulk_update(to_update, [*SYNC_FIELDS, "last_seen"])
            to_update = []
    StoredObject.objects.bulk_create(to_create, batch_size=BATCH, ignore_conflicts=True)
    if to_update:
        StoredObject.objects.bulk_update(to_update, [*SYNC_FIELDS, "last_seen"])
    return seen


def _name_is_safe(bucket: str, key: str, result: ImportResult) -> bool:
    """False (logged and counted) for a listed name that may not be catalogued."""
    problem = unsafe_name_problem(key)
    if problem is None:
        return True
    logger.warning("not catalogued: s3://%s/%r: %s", bucket, key, problem)
    result.extra["unsafeNamesSkipped"] = result.extra.get("unsafeNamesSkipped", 0) + 1
    return False


def _mark_missing(objects: Iterable[StoredObject], seen: set[str], result: ImportResult) -> None:
    gone = [obj.pk for obj in objects if obj.key not in seen and not obj.missing]
    for start in range(0, len(gone), BATCH):
        StoredObject.objects.filter(pk__in=gone[start : start + BATCH]).update(missing=True)
    result.extra["missing"] = result.extra.get("missing", 0) + len(gone)


def catalog_sync_prefix(*, uri: str) -> ImportResult:
    """Catalogue every object under `uri` (one paginated listing) and flag catalogued ones gone;
    400 naming `uri` unless it is inside an allowed catalogue source."""
    location = s3.parse_s3_uri(uri)
    source_policy_load().require(uri)
    result = ImportResult()
    existing = {
        obj.key: obj
        for obj in StoredObject.objects.filter(bucket=location.bucket, key__startswith=location.key)
    }
    with transaction.atomic():
        seen = _apply_listing(
            location.bucket,
            objects_listed(location.bucket, location.key),
            existing=existing,
            include=lambda _key: True,
            result=result,
        )
        _mark_missing(existing.values(), seen, result)
    return result


def catalog_object_refresh(*, bucket: str, key: str) -> str:
    """Read one object's state from S3 (HEAD) into the catalog, as a storage notification asks.

    Returns "created", "updated", "unchanged", "missing" (catalogued, now gone) or "absent"
    (neither in storage nor in the catalog). HEAD, not a listing, so the restore state is read.
    "notASource": the object is outside the allowed catalogue sources, "unsafeName": its name
    may not be catalogued; neither is read nor written.
    """
    if not source_policy_load().allows(bucket, key):
        logger.info("storage event for s3://%s/%s ignored: not a catalogue source", bucket, key)
        return "notASource"
    if unsafe_name_problem(key):
        logger.warning("storage event for s3://%s/%r ignored: unsafe name", bucket, key)
        return "unsafeName"
    info = s3.head_object(bucket, key)
    now = timezone.now()
    with transaction.atomic():
        obj = StoredObject.objects.select_for_update().filter(bucket=bucket, key=key).first()
        if info is None:
            if obj is None:
                return "absent"
            if not obj.missing:
                obj.missing = True
                obj.save(update_fields=["missing"])
            return "missing"
        values = object_values(info)
        if obj is None:
            StoredObject.objects.create(bucket=bucket, key=key, last_seen=now, **values)
            return "created"
        changed = any(getattr(obj, name) != values[name] for name in SYNC_FIELDS)
        for name in SYNC_FIELDS:
            setattr(obj, name, values[name])
        obj.last_seen = now
        obj.save(update_fields=[*SYNC_FIELDS, "last_seen"])
    return "updated" if changed else "unchanged"


LAST_SEEN_CHUNK = 10_000


def prefix_query_chunk() -> int:
    """How many `key LIKE 'prefix%'` alternatives one query may OR together: SQLite refuses
    expression trees deeper than 1,000."""
    return 200 if connection.vendor == "sqlite" else 1000


def objects_listed(bucket: str, prefix: str) -> Iterator[s3.ObjectInfo]:
    """The objects under a prefix; a missing or forbidden bucket is a clear 400, not a crash."""
    try:
        yield from s3.list_objects(bucket, prefix)
    except s3.S3_ERRORS as exc:
        code = s3.error_code(exc)
        if code in {"NoSuchBucket", "AccessDenied", "403", "404"}:
            raise DomainError(f"Cannot list s3://{bucket}/{prefix}: {code}.") from None
        raise


def _list_prefix(location: s3.S3Uri) -> list[s3.ObjectInfo]:
    return list(objects_listed(location.bucket, location.key))


def catalog_sync_prefixes(
    *, uris: Sequence[str], concurrency: int = 8, policy: SourcePolicy | None = None
) -> ImportResult:
    """Catalogue every object under each of `uris`, and flag catalogued ones that are gone.

    One paginated listing per URI (`concurrency` at a time); the database work is set-based per
    bucket: one read per 1,000 prefixes, inserts of new objects, updates of changed ones and one
    `last_seen` update per 10,000 unchanged ones, so the number of queries does not grow with the
    number of prefixes below those batch sizes. 400 naming the URIs outside the allowed sources
    (`policy`, loaded when not given) before anything is listed.
    """
    locations = sorted({s3.parse_s3_uri(uri) for uri in uris}, key=str)
    result = ImportResult()
    if not locations:
        return result
    policy = policy or source_policy_load()
    refused = [str(location) for location in locations if not policy.allows_uri(str(location))]
    if refused:
        raise policy.refusal(refused)
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(locations)))) as pool:
        listings = list(pool.map(_list_prefix, locations))
    by_bucket: dict[str, tuple[list[str], dict[str, s3.ObjectInfo]]] = {}
    for location, listing in zip(locations, listings, strict=True):
        prefixes, objects = by_bucket.setdefault(location.bucket, ([], {}))
        prefixes.append(location.key)
        objects.update((info.key, info) for info in listing)
    now = timezone.now()
    with transaction.atomic():
        for bucket, (prefixes, listed) in by_bucket.items():
            existing: dict[str, StoredObject] = {}
            chunk = prefix_query_chunk()
            for start in range(0, len(prefixes), chunk):
                query = models.Q()
                for prefix in prefixes[start : start + chunk]:
                    query |= models.Q(key__startswith=prefix)
                existing.update(
                    (obj.key, obj) for obj in StoredObject.objects.filter(query, bucket=bucket)
                )
            to_create: list[StoredObject] = []
            changed: list[StoredObject] = []
            unchanged: list[int] = []
            for key, info in listed.items():
                values = object_values(info)
                obj = existing.get(key)
                if obj is None:
                    if _name_is_safe(bucket, key, result):
                        to_create.append(
                            StoredObject(bucket=bucket, key=key, last_seen=now, **values)
                        )
                        result.count("created")
                elif any(getattr(obj, name) != values[name] for name in SYNC_FIELDS):
                    for name in SYNC_FIELDS:
                        setattr(obj, name, values[name])
                    obj.last_seen = now
                    changed.append(obj)
                    result.count("updated")
                else:
                    unchanged.append(obj.pk)
                    result.count("unchanged")
            StoredObject.objects.bulk_create(to_create, batch_size=BATCH, ignore_conflicts=True)
            StoredObject.objects.bulk_update(changed, [*SYNC_FIELDS, "last_seen"], batch_size=BATCH)
            for start in range(0, len(unchanged), LAST_SEEN_CHUNK):
                StoredObject.objects.filter(
                    pk__in=unchanged[start : start + LAST_SEEN_CHUNK]
                ).update(last_seen=now)
            _mark_missing(existing.values(), set(listed), result)
    return result


def _output_prefixes(policy: SourcePolicy) -> dict[str, list[str]]:
    """Workflow run output prefixes inside the allowed sources, by bucket."""
    output_prefixes: dict[str, list[str]] = defaultdict(list)
    for output_uri in WorkflowRun.objects.values_list("output_uri", flat=True):
        try:
            location = s3.parse_s3_uri(output_uri)
        except DomainError:
            continue
        if policy.allows(location.bucket, location.key):
            output_prefixes[location.bucket].append(location.key)
    return output_prefixes


def catalog_sync_storage(*, uri: str | None = None) -> ImportResult:
    """Refresh size, ETag, storage class and restore state from S3.

    With `uri`, catalogue everything under it (400 unless it is inside an allowed source).
    Without, refresh every catalogued object inside the allowed sources and catalogue new
    objects under the workflow run output prefixes inside them: one listing per bucket, over
    the longest prefix those keys share. Catalogued objects outside the sources are left as
    they are (packaging refuses them).
    """
    if uri:
        return catalog_sync_prefix(uri=uri)
    result = ImportResult()
    policy = source_policy_load()
    output_prefixes = _output_prefixes(policy)
    buckets = {
        bucket
        for bucket in StoredObject.objects.values_list("bucket", flat=True).distinct()
        if any(source.bucket == bucket for source in policy.sources)
    } | set(output_prefixes)
    for bucket in sorted(buckets):
        existing = {
            obj.key: obj
            for obj in StoredObject.objects.filter(bucket=bucket)
            if policy.allows(bucket, obj.key)
        }
        prefixes = output_prefixes.get(bucket, [])
        common = os.path.commonprefix([*existing, *prefixes])  # noqa: RUF071 - S3 prefixes are plain strings

        def include(key: str, prefixes: list[str] = prefixes) -> bool:
            return any(key.startswith(p) for p in prefixes)

        with transaction.atomic():
            seen = _apply_listing(
                bucket,
                objects_listed(bucket, common),
                existing=existing,
                include=include,
                result=result,
            )
            _mark_missing(existing.values(), seen, result)
    logger.info("storage sync: %s", result.as_dict())
    return result
