"""Places no one may push to: an S3 destination overlapping an allowed catalogue source or the
artifact bucket (SPEC §7). "Overlap": in one bucket, either prefix contains the other (a
whole-bucket source overlaps everything in that bucket). ICAv2 destinations are not S3 buckets
and never overlap."""

from __future__ import annotations

from catalog_app.sources.policy import sources_overlapping
from sharing_app.destinations.destination import S3, Destination


def destination_overlap_problem(destination: Destination) -> str | None:
    """Why no one may push to `destination` (it overlaps a catalogue source or the artifact
    bucket), or None."""
    if destination.kind != S3:
        return None
    overlapping = sources_overlapping(bucket=destination.bucket, prefix=destination.prefix)
    if not overlapping:
        return None
    return (
        f"Destination {destination.uri} overlaps {', '.join(overlapping)}: no one may push into "
        "a catalogue source (Admin > Catalog > Allowed sources, CATALOG_ALLOWED_SOURCES) or the "
        "artifact bucket, nor above one. Choose a place outside them."
    )
