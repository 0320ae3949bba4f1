"""The default workflow file filters (seeded by migration) against realistic output trees."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from catalog_app import demo
from packages_app.apps import _ensure_default_filters
from packages_app.workflow_filters.defaults import DEFAULT_WORKFLOW_FILTERS
from packages_app.workflow_filters.matching import file_is_shared, filter_set_load
from packages_app.workflow_filters.models import WorkflowFileFilter, WorkflowFileFilterRule

pytestmark = pytest.mark.django_db

SBJ, T, N = "SBJ00102", "L2400104", "L2400105"
PAIR = f"{SBJ}__{T}_{N}"


def shared(workflow_name: str, tree: list[str], *, use_filters: bool = True) -> set[str]:
    workflow_filter = filter_set_load().for_workflow(workflow_name)
    return {
        path
        for path in tree
        if file_is_shared(path, workflow_filter=workflow_filter, use_workflow_filters=use_filters)
    }


def test_every_workflow_type_of_the_spec_has_a_default_filter() -> None:
    filters = filter_set_load()
    for name in [
        "tumor-normal",
        "wts",
        "umccrise",
        "dragen-wgts-dna",
        "dragen-wgts-rna",
        "cttsov2",
        "dragen-tso500-ctdna",
        "oncoanalyser-wgts-dna",
        "oncoanalyser-wgts-rna",
        "oncoanalyser-wgts-dna-rna",
        "sash",
        "rnasum",
    ]:
        assert filters.for_workflow(name) is not None, name
    assert WorkflowFileFilter.objects.count() == len(DEFAULT_WORKFLOW_FILTERS)


def test_tumor_normal_shares_alignments_variants_and_metrics() -> None:
    tree = [
        *demo._tumor_normal_files(SBJ, T, N),
        f"{PAIR}/{PAIR}.time_metrics.csv",
        f"{PAIR}/{PAIR}.fragment_length_hist.csv",
        f"{PAIR}/{PAIR}-replay.json",
        f"{PAIR}/{PAIR}.hard-filtered.baf.bw",
        f"{PAIR}/streaming_log_user.csv",
        f"{T}/{T}.bam.tmp",
        "bam/notes.txt",
    ]
    assert shared("tumor-normal", tree) == {
        f"{T}/{T}.bam",
        f"{T}/{T}.bam.bai",
        f"{T}/{T}.bam.md5sum",
        f"{N}/{N}.bam",
        f"{N}/{N}.bam.bai",
        f"{N}/{N}.bam.md5sum",
        *(
            f"{PAIR}/{PAIR}.{kind}.vcf.gz{index}"
            for kind in ("hard-filtered", "somatic.hard-filtered", "sv", "cnv")
            for index in ("", ".tbi")
        ),
        f"{PAIR}/{PAIR}.mapping_metrics.csv",
        f"{PAIR}/{PAIR}.time_metrics.csv",
    }
    assert shared("wgs_tumor_normal", tree) == shared("tumor-normal", tree)


def test_wts_shares_alignment_quantification_and_fusions() -> None:
    lib = "L2400106"
    tree = [
        *demo._wts_files(lib),
        f"{lib}/{lib}.fusion_candidates.preliminary",
        f"{lib}/{lib}.quant.transcript_coverage.txt",
        f"{lib}/{lib}.mapping_metrics.csv",
        f"{lib}/{lib}-replay.json",
    ]
    assert shared("wts", tree) == {
        f"{lib}/{lib}.bam",
        f"{lib}/{lib}.bam.bai",
        f"{lib}/{lib}.bam.md5sum",
        f"{lib}/{lib}.quant.sf",
        f"{lib}/{lib}.quant.genes.sf",
        f"{lib}/{lib}.fusion_candidates.final",
        f"{lib}/{lib}.mapping_metrics.csv",
    }


def test_umccrise_shares_reports_variants_and_tables_not_work_or_log() -> None:
    base = f"{SBJ}__{T}"
    tree = [
        *demo._umccrise_files(SBJ, T, N),
        f"{base}/purple/{base}.purple.cnv.somatic.tsv",
        f"{base}/purple/plot/{base}.circos.png",
        f"{base}/coverage/{base}-normal.callable.bed",
        f"{base}/{base}-normal.cpsr.html",
        f"log/{base}.log",
        f"work/{base}/small_variants/{base}-somatic.vcf.gz",
    ]
    assert shared("umccrise", tree) == {
        f"{base}/{base}.cancer_report.html",
        f"{base}/small_variants/{base}-somatic.pcgr.html",
        f"{base}/small_variants/{base}-somatic-PASS.vcf.gz",
        f"{base}/small_variants/{base}-somatic-PASS.vcf.gz.tbi",
        f"{base}/{base}-multiqc_report.html",
        f"{base}/cancer_report_tables/{base}-purple_cnv_som.tsv.gz",
        f"{base}/purple/{base}.purple.cnv.somatic.tsv",
        f"{base}/purple/plot/{base}.circos.png",
        f"{base}/{base}-normal.cpsr.html",
    }


def test_dragen_wgts_dna_shares_alignments_variants_metrics_and_reports() -> None:
    somatic = f"{T}__{N}__dragen_somatic_variant_calling"
    germline = f"{N}__dragen_germline_variant_calling"
    tree = [
        f"{somatic}/{T}.bam",
        f"{somatic}/{T}.bam.bai",
        f"{somatic}/{T}.bam.md5sum",
        f"{somatic}/{T}.hard-filtered.vcf.gz",
        f"{somatic}/{T}.hard-filtered.vcf.gz.tbi",
        f"{somatic}/{T}.mapping_metrics.csv",
        f"{somatic}/{T}.fragment_length_hist.csv",
        f"{somatic}/{T}-replay.json",
        f"{germline}/{N}.cram",
        f"{germline}/{N}.cram.crai",
        f"{germline}/{N}.hard-filtered.gvcf.gz",
        f"{germline}/{N}.hard-filtered.vcf.gz",
        "multiqc/multiqc_report.html",
        "multiqc/multiqc_data/multiqc_general_stats.txt",
        "logs/dragen.log",
    ]
    assert shared("dragen-wgts-dna", tree) == {
        f"{somatic}/{T}.bam",
        f"{somatic}/{T}.bam.bai",
        f"{somatic}/{T}.bam.md5sum",
        f"{somatic}/{T}.hard-filtered.vcf.gz",
        f"{somatic}/{T}.hard-filtered.vcf.gz.tbi",
        f"{somatic}/{T}.mapping_metrics.csv",
        f"{germline}/{N}.cram",
        f"{germline}/{N}.cram.crai",
        f"{germline}/{N}.hard-filtered.vcf.gz",
        "multiqc/multiqc_report.html",
    }


def test_dragen_wgts_rna_shares_alignment_quantification_fusions_variants() -> None:
    lib = "L2400106"
    folder = f"{lib}__dragen_wts"
    tree = [
        f"{folder}/{lib}.bam",
        f"{folder}/{lib}.bam.bai",
        f"{folder}/{lib}.quant.sf",
        f"{folder}/{lib}.quant.genes.sf",
        f"{folder}/{lib}.fusion_candidates.final",
        f"{folder}/{lib}.fusion_candidates.features.csv",
        f"{folder}/{lib}.hard-filtered.vcf.gz",
        f"{folder}/{lib}.mapping_metrics.csv",
        f"{folder}/{lib}.gene_expression.bw",
        f"{folder}/{lib}-replay.json",
        "multiqc/multiqc_report.html",
    ]
    assert shared("dragen-wgts-rna", tree) == {
        f"{folder}/{lib}.bam",
        f"{folder}/{lib}.bam.bai",
        f"{folder}/{lib}.quant.sf",
        f"{folder}/{lib}.quant.genes.sf",
        f"{folder}/{lib}.fusion_candidates.final",
        f"{folder}/{lib}.hard-filtered.vcf.gz",
        f"{folder}/{lib}.mapping_metrics.csv",
        "multiqc/multiqc_report.html",
    }


def test_cttso_shares_results_not_intermediates() -> None:
    lib = "L2400109"
    tree = demo._cttso_files(lib)
    expected = {path for path in tree if path.startswith("Results/")}
    assert shared("cttsov2", list(tree)) == expected
    assert len(expected) == 7
    # dragen-tso500-ctdna nests the same layout under a folder per library.
    nested = [f"{lib}/{path}" for path in tree]
    assert shared("dragen-tso500-ctdna", nested) == {f"{lib}/{path}" for path in expected}


def test_oncoanalyser_modes_share_the_published_tree_not_work_or_pipeline_info() -> None:
    tree = [
        *demo._oncoanalyser_files(SBJ, T),
        f"{SBJ}/isofox/{T}.isf.gene_data.csv",
        f"{SBJ}/orange/{T}.orange.pdf",
        f"{SBJ}/pipeline_info/execution_report.html",
        "work/ab/cdef12/.command.sh",
        f"{SBJ}/.nextflow.log",
    ]
    expected = {
        f"{SBJ}/purple/{T}.purple.purity.tsv",
        f"{SBJ}/purple/{T}.purple.somatic.vcf.gz",
        f"{SBJ}/linx/{T}.linx.fusion.tsv",
        f"{SBJ}/isofox/{T}.isf.gene_data.csv",
        f"{SBJ}/orange/{T}.orange.pdf",
    }
    for mode in ("oncoanalyser-wgts-dna", "oncoanalyser-wgts-rna", "oncoanalyser-wgts-dna-rna"):
        assert shared(mode, tree) == expected, mode


def test_sash_shares_the_published_tree() -> None:
    base = f"{SBJ}_{T}"
    tree = [
        f"{base}/cancer_report/{base}.cancer_report.html",
        f"{base}/smlv_somatic/report/pcgr/{base}.pcgr_acmg.grch38.html",
        f"{base}/smlv_somatic/filter/{base}.pass.vcf.gz",
        f"{base}/smlv_somatic/filter/{base}.pass.vcf.gz.tbi",
        f"{base}/purple/{base}.purple.cnv.somatic.tsv",
        f"{base}/linx/somatic_annotations/{base}.linx.svs.tsv",
        "pipeline_info/execution_trace.txt",
        "work/12/3456789abc/.command.run",
        "work/12/3456789abc/versions.yml",
        f"{base}/.hidden.tmp",
    ]
    assert shared("sash", tree) == set(tree[:6])


def test_rnasum_shares_the_report_and_its_tables() -> None:
    lib = "L2400106"
    tree = [*demo._rnasum_files(lib), f"{lib}/{lib}.RNAseq_report.rds", f"{lib}/session_info.txt"]
    assert shared("rnasum", tree) == {
        f"{lib}/{lib}.RNAseq_report.html",
        f"{lib}/{lib}.RNAseq_report/glimpse.tsv",
    }


def test_without_filters_only_logs_and_cache_folders_are_left_out() -> None:
    tree = [*demo._umccrise_files(SBJ, T, N), "a/logs/x.txt", "a/cache/y", "logsfile.txt"]
    assert shared("umccrise", tree, use_filters=False) == {
        path
        for path in tree
        if not path.startswith(("logs/", "cache/")) and path not in {"a/logs/x.txt", "a/cache/y"}
    }


def test_a_workflow_without_filter_shares_everything_but_logs_and_cache() -> None:
    tree = ["out/report.html", "out/data.bin", "logs/run.log", "cache/c"]
    assert filter_set_load().for_workflow("brand-new-workflow") is None
    assert shared("brand-new-workflow", tree) == {"out/report.html", "out/data.bin"}


def test_exact_names_win_over_prefixes_and_longer_prefixes_over_shorter() -> None:
    rna = WorkflowFileFilter.objects.create(workflow_name="oncoanalyser-wgts-rna")
    WorkflowFileFilterRule.objects.create(filter=rna, pattern=r".*/isofox/.*")
    rna_prefix = WorkflowFileFilter.objects.create(workflow_name="oncoanalyser-wgts-r*")
    filters = filter_set_load()
    assert filters.for_workflow("oncoanalyser-wgts-rna").workflow_name == "oncoanalyser-wgts-rna"
    assert filters.for_workflow("oncoanalyser-wgts-rxx").workflow_name == rna_prefix.workflow_name
    assert filters.for_workflow("oncoanalyser-wgts-dna").workflow_name == "oncoanalyser-*"
    assert shared("oncoanalyser-wgts-rna", ["S/isofox/a.csv", "S/purple/b.tsv"]) == {
        "S/isofox/a.csv"
    }


def test_disabled_filters_are_ignored() -> None:
    WorkflowFileFilter.objects.filter(workflow_name="wts").update(enabled=False)
    assert shared("wts", ["L/L.bam", "L/other.txt"]) == {"L/L.bam", "L/other.txt"}


def test_patterns_are_anchored_at_both_ends() -> None:
    # ".*\.bam" matches paths ending in .bam only, not ".bam.tmp" or "x.bamboo".
    assert shared("tumor-normal", ["a/x.bam", "a/x.bam.tmp", "a/x.bamboo", "xbam"]) == {"a/x.bam"}


@pytest.mark.parametrize("pattern", ["(unclosed", ".*", "a|", "[z-a]"])
def test_invalid_or_match_everything_empty_patterns_are_rejected(pattern: str) -> None:
    workflow_filter = WorkflowFileFilter.objects.get(workflow_name="wts")
    rule = WorkflowFileFilterRule(filter=workflow_filter, pattern=pattern)
    with pytest.raises(ValidationError):
        rule.full_clean()


@pytest.mark.parametrize("name", ["", "*", "bad name", "a/b", "wf**", "-x"])
def test_invalid_workflow_names_are_rejected(name: str) -> None:
    with pytest.raises(ValidationError):
        WorkflowFileFilter(workflow_name=name).full_clean()


def test_defaults_come_back_after_migrate_only_when_the_table_is_empty() -> None:
    WorkflowFileFilter.objects.filter(workflow_name="rnasum").delete()
    _ensure_default_filters()
    assert not WorkflowFileFilter.objects.filter(workflow_name="rnasum").exists()
    WorkflowFileFilter.objects.all().delete()
    _ensure_default_filters()
    assert WorkflowFileFilter.objects.count() == len(DEFAULT_WORKFLOW_FILTERS)
    assert WorkflowFileFilterRule.objects.filter(filter__workflow_name="rnasum").count() == 2
