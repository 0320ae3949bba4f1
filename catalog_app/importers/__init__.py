"""Writes to the catalog: idempotent, set-based importers, one module per source.

Reading and importing are two steps. A source's rows are first turned into validated records
(`lims_records_from_csv`, `workflow_records_from_csv`, `fastq_list_records_from_csv` for files,
with errors that name the line and column; the platform events build the same records from their
JSON, with errors that name the event field), so a bad row fails before anything is written.
The importers (`catalog_import_lims`, `catalog_import_workflows`, `catalog_import_fastq_list`)
then upsert the records inside one transaction with a bounded number of queries: one read per
entity type, bulk inserts and bulk updates in batches. Importing the same records again changes
nothing. `storage` keeps catalogued S3 objects in step with the buckets.
"""
