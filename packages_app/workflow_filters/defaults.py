"""Default workflow file filters: the deliverables of each workflow type.

Installed by migration 0003 (and again after migrate when the table is empty, e.g. after a test
flush); editable in the admin afterwards. Patterns are regular expressions matched against the
whole path below a run's output prefix (`re.fullmatch`), so `.*\\.bam` means "ends in .bam" and
`Results/.*` means "in the top-level Results folder". `logs/` and `cache/` folders are never shared,
whatever the rules say.
"""

from __future__ import annotations

from typing import Any

# Building blocks: `(?:.*/)?` is "in any folder, or at the top".
ANY = r"(?:.*/)?"
BAM = ANY + r"[^/]+\.bam(?:\.bai|\.md5sum)?"
CRAM = ANY + r"[^/]+\.cram(?:\.crai|\.md5sum)?"
VCF = ANY + r"[^/]+\.vcf\.gz(?:\.tbi|\.csi|\.md5sum)?"
HTML = ANY + r"[^/]+\.html"
METRICS_CSV = ANY + r"[^/]+_metrics\.csv"
QUANT = ANY + r"[^/]+\.quant(?:\.genes)?\.sf"
FUSIONS = ANY + r"[^/]+\.fusion_candidates\.final"
NEXTFLOW_WORK = ANY + r"work/.*"
NEXTFLOW_INFO = ANY + r"pipeline_info/.*"
HIDDEN = ANY + r"\.[^/]*"

_TUMOR_NORMAL: dict[str, Any] = {
    "description": "DRAGEN WGS tumor/normal: BAM/CRAM with index and md5sum, VCFs with index, "
    "DRAGEN metrics CSVs.",
    "include": [BAM, CRAM, VCF, METRICS_CSV],
    "exclude": [],
}
_WTS: dict[str, Any] = {
    "description": "DRAGEN WTS: BAM with index and md5sum, transcript and gene quantification, "
    "fusion candidates, DRAGEN metrics CSVs.",
    "include": [BAM, QUANT, FUSIONS, METRICS_CSV],
    "exclude": [],
}
_CTTSO: dict[str, Any] = {
    "description": "TSO500 ctDNA: the Results folder (TMB, MSI, combined variant output, VCFs, "
    "BAMs, metrics); not Logs_Intermediates.",
    "include": [ANY + r"Results/.+"],
    "exclude": [ANY + r"Logs_Intermediates/.*"],
}
_NEXTFLOW_PUBLISHED: dict[str, Any] = {
    "include": [],
    "exclude": [NEXTFLOW_WORK, NEXTFLOW_INFO, HIDDEN],
}

DEFAULT_WORKFLOW_FILTERS: list[dict[str, Any]] = [
    {"workflow_name": "tumor-normal", **_TUMOR_NORMAL},
    {
        "workflow_name": "wgs_tumor_normal",
        **_TUMOR_NORMAL,
        "description": "Legacy name of tumor-normal. " + _TUMOR_NORMAL["description"],
    },
    {"workflow_name": "wts", **_WTS},
    {
        "workflow_name": "wts_tumor_only",
        **_WTS,
        "description": "Legacy name of wts. " + _WTS["description"],
    },
    {
        "workflow_name": "dragen-wgts-dna",
        "description": "DRAGEN WGTS DNA: BAM/CRAM with index and md5sum, VCFs with index, metrics "
        "CSVs, HTML reports (MultiQC).",
        "include": [BAM, CRAM, VCF, METRICS_CSV, HTML],
        "exclude": [],
    },
    {
        "workflow_name": "dragen-wgts-rna",
        "description": "DRAGEN WGTS RNA: BAM with index and md5sum, VCFs, quantification, fusion "
        "candidates, metrics CSVs, HTML reports (MultiQC).",
        "include": [BAM, VCF, QUANT, FUSIONS, METRICS_CSV, HTML],
        "exclude": [],
    },
    {"workflow_name": "cttsov2", **_CTTSO},
    {"workflow_name": "dragen-tso500-ctdna", **_CTTSO},
    {
        "workflow_name": "umccrise",
        "description": "umccrise: HTML reports (cancer report, PCGR, CPSR, MultiQC), VCFs with "
        "index, TSV tables, PURPLE/AMBER/COBALT outputs; not work/ or log/.",
        "include": [
            HTML,
            VCF,
            ANY + r"[^/]+\.tsv(?:\.gz)?",
            ANY + r"(?:purple|amber|cobalt)/.+",
        ],
        "exclude": [NEXTFLOW_WORK, ANY + r"log/.*"],
    },
    {
        "workflow_name": "oncoanalyser-*",
        "description": "nf-core/oncoanalyser (every mode): the published output tree; not the "
        "Nextflow work/ folder, pipeline_info/ or hidden files.",
        **_NEXTFLOW_PUBLISHED,
    },
    {
        "workflow_name": "sash",
        "description": "sash: the published output tree (reports, VCFs, PURPLE, LINX, tables); "
        "not the Nextflow work/ folder, pipeline_info/ or hidden files.",
        **_NEXTFLOW_PUBLISHED,
    },
    {
        "workflow_name": "rnasum",
        "description": "RNAsum: the HTML report and its tables folder.",
        "include": [ANY + r"[^/]+\.RNAseq_report\.html", ANY + r"[^/]+\.RNAseq_report/.+"],
        "exclude": [],
    },
]


def seed_default_filters(filter_model: Any, rule_model: Any, *, only_if_empty: bool) -> int:
    """Create the default filters that do not exist yet; returns how many were created.

    Works with the live models and with a migration's historical models. With `only_if_empty`,
    does nothing when any filter exists (an admin's edits and deletions are kept).
    """
    if only_if_empty and filter_model.objects.exists():
        return 0
    existing = set(filter_model.objects.values_list("workflow_name", flat=True))
    created = 0
    for spec in DEFAULT_WORKFLOW_FILTERS:
        if spec["workflow_name"] in existing:
            continue
        workflow_filter = filter_model.objects.create(
            workflow_name=spec["workflow_name"], description=spec["description"], enabled=True
        )
        rule_model.objects.bulk_create(
            [
                rule_model(filter=workflow_filter, action=action, pattern=pattern)
                for action in ("include", "exclude")
                for pattern in spec[action]
            ]
        )
        created += 1
    return created
