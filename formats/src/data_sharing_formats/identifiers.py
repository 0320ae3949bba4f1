"""Identifier patterns: what a library, project, run, workflow or package may be called.

The service's importers and request validation and the CLI's manifest checks all use these, so a
manifest the CLI accepts is not refused by the service for its identifiers. Identifiers become
S3 key parts and file names: none may start with a separator or contain `/` or spaces.
"""

from __future__ import annotations

import re

# Library, sample, subject (internal), individual and project ids.
IDENTIFIER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}$")
# `L2401544_topup2` and `L2401544_rerun` are further sequencing of library `L2401544`.
TOPUP_RERUN_RE = re.compile(r"^(?P<base>.+?)_(?:topup|rerun)\d*$")
# YYYYMMDD and 8 lower-case hex characters: `20241114aabbccdd`.
PORTAL_RUN_ID_RE = re.compile(r"^\d{8}[0-9a-f]{8}$")
# The sequencer's run folder name: `241024_A00130_0336_BHW7MVDSXC`.
INSTRUMENT_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
WORKFLOW_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}$")
PACKAGE_NAME_RE = re.compile(r"^[A-Za-z][\w.+-]+$", re.ASCII)
PACKAGE_NAME_MAX_LENGTH = 255


def base_library_id(library_id: str) -> str:
    """`L2401544_topup2` and `L2401544_rerun` belong to `L2401544`."""
    match = TOPUP_RERUN_RE.fullmatch(library_id)
    return match.group("base") if match else library_id
