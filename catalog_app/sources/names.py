"""Object names the catalog accepts: no control or invisible formatting characters.

A key with a newline, a tab, a carriage return or a Unicode format character (category Cf:
zero-width joiners, bidirectional overrides) breaks the line- and tab-separated files a package
carries (`checksums.md5`, `manifest.tsv`, the download script) or shows the recipient a name
that is not the object's. Such names are refused where they enter the catalog (fastq lists
name the line and column; storage listings skip them with a logged warning and count them) and
again at packaging, for rows catalogued before this check existed.
"""

from __future__ import annotations

import unicodedata

# Cc: C0 and C1 controls (tab, newline, DEL ...); Cf: format characters; Zl, Zp: the line and
# paragraph separators (U+2028, U+2029), which `str.splitlines` and many viewers break lines at.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def unsafe_character(name: str) -> tuple[int, str] | None:
    """The first character of `name` that may not appear in an object name, as (position from
    1, `U+XXXX`), or None when every character is safe."""
    for position, ch in enumerate(name, start=1):
        if unicodedata.category(ch) in UNSAFE_CATEGORIES:
            return position, f"U+{ord(ch):04X}"
    return None


def unsafe_name_problem(name: str) -> str | None:
    """Why `name` cannot be catalogued, or None."""
    found = unsafe_character(name)
    if found is None:
        return None
    position, code = found
    return (
        f"the name contains a control or formatting character ({code} at character {position}); "
        "such names break checksum and manifest files"
    )
