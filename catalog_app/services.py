"""Writes to the catalog other than the importers: removing FASTQ rows."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Q, QuerySet

from catalog_app.models import Fastq, SequencingRun, StoredObject
from datasharing.errors import DomainError, NotFound

logger = logging.getLogger(__name__)


@transaction.atomic
def fastq_rows_delete(*, fastqs: QuerySet[Fastq]) -> int:
    """Delete these FASTQ rows; returns how many.

    Their objects stay catalogued when storage has ever shown them (they are facts about
    storage); objects never seen there (`last_seen` empty: a fastq list named files that were not
    found, e.g. under a wrong base URI) go with them. Packages frozen from the rows keep their
    files (source URIs, sizes, checksums are frozen), detached from the deleted rows.
    """
    rows = list(fastqs.values_list("pk", "read1_id", "read2_id"))
    if not rows:
        return 0
    object_pks = {pk for _, read1, read2 in rows for pk in (read1, read2) if pk is not None}
    Fastq.objects.filter(pk__in=[pk for pk, _, _ in rows]).delete()
    never_seen = StoredObject.objects.filter(pk__in=object_pks, last_seen__isnull=True).exclude(
        Q(fastq_r1__isnull=False) | Q(fastq_r2__isnull=False)
    )
    never_seen.delete()
    logger.info("deleted %d FASTQ rows", len(rows))
    return len(rows)


def catalog_run_fastqs_delete(
    *, instrument_run_id: str, library_ids: list[str] | None = None, lanes: list[int] | None = None
) -> int:
    """Delete the FASTQ rows of one instrument run (only those of `library_ids` and `lanes`, when
    given); returns how many. 404 for a run the catalog does not know."""
    run = SequencingRun.objects.filter(instrument_run_id=instrument_run_id).first()
    if run is None:
        raise NotFound(f"Instrument run {instrument_run_id!r} is not in the catalog.")
    if lanes and any(not 1 <= lane <= 64 for lane in lanes):
        raise DomainError("lane must be a number from 1 to 64.")
    fastqs = Fastq.objects.filter(run=run)
    if library_ids:
        fastqs = fastqs.filter(
            Q(library__library_id__in=library_ids) | Q(source_library_id__in=library_ids)
        )
    if lanes:
        fastqs = fastqs.filter(lane__in=lanes)
    deleted = fastq_rows_delete(fastqs=fastqs)
    logger.info("instrument run %s: %d FASTQ rows deleted", instrument_run_id, deleted)
    return deleted
