"""Catalog REST API: read-only lists, CSV importers (multipart upload), storage sync and the
removal of a run's FASTQ rows.

One view per operation. Every importer answers with `LimsImportApi.OutputSerializer` (component
`ImportResult`); the LIMS and workflow importers take the same upload
(`LimsImportApi.InputSerializer`, component `ImportInput`).
"""

import re
from typing import Any

from data_sharing_formats.identifiers import (
    IDENTIFIER_RE,
    INSTRUMENT_RUN_ID_RE,
    PORTAL_RUN_ID_RE,
    WORKFLOW_NAME_RE,
)
from django.conf import settings
from django.core.validators import RegexValidator
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from catalog_app import selectors
from catalog_app.importers.base import ImportResult
from catalog_app.importers.fastq_list import (
    catalog_import_fastq_list,
    fastq_list_base,
    fastq_list_records_from_csv,
)
from catalog_app.importers.lims import catalog_import_lims, lims_records_from_csv
from catalog_app.importers.storage import catalog_sync_storage
from catalog_app.importers.workflows import catalog_import_workflows, workflow_records_from_csv
from catalog_app.models import Library, SequencingRun, WorkflowRun
from catalog_app.services import catalog_run_fastqs_delete
from datasharing import s3
from datasharing.api import ApiView, StrictSerializer
from datasharing.auth import CURATOR
from datasharing.csvfile import decode_upload
from datasharing.errors import PayloadTooLarge
from datasharing.pagination import EnvelopePagination
from datasharing.query import query_list
from datasharing.schema import DocumentedPattern, json_pattern, list_parameter

# Subject ids: internal ids, or the external ids facilities write (longer, same characters).
SUBJECT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,254}$")
# What `datasharing.s3.parse_s3_uri` accepts: a valid bucket (no ".."), then a key without
# control characters or "." / ".." segments.
_S3_URI = (
    r"s3://(?![^/]*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
    r"(?:/(?!\.{1,2}(?:/|$))(?!.*/\.{1,2}(?:/|$))[^\u0000-\u001f\u007f]*)?"
)
S3_URI_RE = re.compile(f"^{_S3_URI}$")
S3_URI_OR_EMPTY_RE = re.compile(f"^(?:{_S3_URI})?$")


def _sync_uri_check(uri: str) -> None:
    if uri:
        s3.parse_s3_uri(uri)


# --- Read-only lists ----------------------------------------------------------------------------

# A lane number, 1 to 64 (as FASTQ lists number them).
LANE_RE = re.compile(r"^(?:[1-9]|[1-5][0-9]|6[0-4])$")


class LibraryListApi(ApiView):
    class OutputSerializer(serializers.ModelSerializer):
        subject_id = serializers.CharField(source="subject.internal_subject_id", default=None)
        external_subject_id = serializers.CharField(
            source="subject.external_subject_id", default=None
        )
        individual_id = serializers.CharField(
            source="subject.individual.individual_id", default=None
        )
        project_ids = serializers.SerializerMethodField()
        instrument_run_ids = serializers.SerializerMethodField()

        class Meta:
            model = Library
            fields = [
                "library_id",
                "sample_id",
                "external_sample_id",
                "subject_id",
                "external_subject_id",
                "individual_id",
                "project_ids",
                "instrument_run_ids",
                "phenotype",
                "type",
                "assay",
                "workflow",
                "quality",
                "source",
                "coverage",
            ]

        def get_project_ids(self, library: Library) -> list[str]:
            return sorted(p.project_id for p in library.projects.all())

        def get_instrument_run_ids(self, library: Library) -> list[str]:
            return sorted({r.instrument_run_id for r in library.runs.all()})

    pagination_class = EnvelopePagination
    query_parameters = [
        list_parameter("libraryId", "Library ids.", pattern=IDENTIFIER_RE),
        list_parameter("subjectId", "Internal or external subject ids.", pattern=SUBJECT_ID_RE),
        list_parameter("projectId", "Project ids.", pattern=IDENTIFIER_RE),
        list_parameter("instrumentRunId", "Instrument run ids.", pattern=INSTRUMENT_RUN_ID_RE),
        list_parameter("sampleId", "Sample ids.", pattern=IDENTIFIER_RE),
        list_parameter("type", "Library types (WGS, WTS, ctDNA ...)."),
        list_parameter("assay", "Assays."),
        list_parameter("phenotype", "Phenotypes (tumor, normal ...)."),
    ]

    @extend_schema(
        operation_id="catalog_libraries_list",
        responses={200: OutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        libraries = selectors.library_list(
            library_ids=query_list(params, "libraryId", pattern=IDENTIFIER_RE),
            subject_ids=query_list(params, "subjectId", pattern=SUBJECT_ID_RE),
            project_ids=query_list(params, "projectId", pattern=IDENTIFIER_RE),
            instrument_run_ids=query_list(params, "instrumentRunId", pattern=INSTRUMENT_RUN_ID_RE),
            sample_ids=query_list(params, "sampleId", pattern=IDENTIFIER_RE),
            types=query_list(params, "type"),
            assays=query_list(params, "assay"),
            phenotypes=query_list(params, "phenotype"),
        )
        return self.pagination_class.response(
            queryset=libraries, serializer_class=self.OutputSerializer, request=request, view=self
        )


class RunListApi(ApiView):
    class OutputSerializer(serializers.ModelSerializer):
        library_count = serializers.IntegerField()

        class Meta:
            model = SequencingRun
            fields = ["instrument_run_id", "run_date", "library_count"]

    pagination_class = EnvelopePagination
    query_parameters = [
        list_parameter("instrumentRunId", "Instrument run ids.", pattern=INSTRUMENT_RUN_ID_RE),
        list_parameter("libraryId", "Library ids.", pattern=IDENTIFIER_RE),
    ]

    @extend_schema(operation_id="catalog_runs_list", responses={200: OutputSerializer(many=True)})
    def get(self, request: Request) -> Response:
        params = request.query_params
        runs = selectors.run_list(
            instrument_run_ids=query_list(params, "instrumentRunId", pattern=INSTRUMENT_RUN_ID_RE),
            library_ids=query_list(params, "libraryId", pattern=IDENTIFIER_RE),
        )
        return self.pagination_class.response(
            queryset=runs, serializer_class=self.OutputSerializer, request=request, view=self
        )


class WorkflowRunListApi(ApiView):
    class OutputSerializer(serializers.ModelSerializer):
        library_ids = serializers.SerializerMethodField()

        class Meta:
            model = WorkflowRun
            fields = [
                "portal_run_id",
                "workflow_name",
                "workflow_version",
                "status",
                "start_time",
                "end_time",
                "duration_seconds",
                "comment",
                "output_uri",
                "library_ids",
            ]

        def get_library_ids(self, run: WorkflowRun) -> list[str]:
            return sorted(lib.library_id for lib in run.libraries.all())

    pagination_class = EnvelopePagination
    query_parameters = [
        list_parameter("portalRunId", "Portal run ids.", pattern=PORTAL_RUN_ID_RE),
        list_parameter("workflowName", "Workflow names.", pattern=WORKFLOW_NAME_RE),
        list_parameter("status", "Workflow statuses (SUCCEEDED, FAILED ...)."),
        list_parameter("libraryId", "Library ids.", pattern=IDENTIFIER_RE),
    ]

    @extend_schema(
        operation_id="catalog_workflow_runs_list",
        responses={200: OutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        runs = selectors.workflow_run_list(
            portal_run_ids=query_list(params, "portalRunId", pattern=PORTAL_RUN_ID_RE),
            workflow_names=query_list(params, "workflowName", pattern=WORKFLOW_NAME_RE),
            statuses=query_list(params, "status"),
            library_ids=query_list(params, "libraryId", pattern=IDENTIFIER_RE),
        )
        return self.pagination_class.response(
            queryset=runs, serializer_class=self.OutputSerializer, request=request, view=self
        )


# --- Importers ----------------------------------------------------------------------------------


def _read_upload(upload: Any) -> str:
    if upload.size > settings.CATALOG_UPLOAD_MAX_BYTES:
        raise PayloadTooLarge(
            f"File of {upload.size} bytes exceeds the limit of {settings.CATALOG_UPLOAD_MAX_BYTES} bytes."
        )
    return decode_upload(upload.read(), name=upload.name or "file")


class LimsImportApi(ApiView):
    parser_classes = [MultiPartParser]

    @extend_schema_serializer(component_name="ImportInput")
    class InputSerializer(StrictSerializer):
        file = serializers.FileField(help_text="The CSV file (UTF-8).")

    @extend_schema_serializer(component_name="ImportResult")
    class OutputSerializer(serializers.Serializer):
        created = serializers.IntegerField()
        updated = serializers.IntegerField()
        unchanged = serializers.IntegerField()

        def to_representation(self, instance: ImportResult) -> dict[str, Any]:
            # Importer-specific counts (`missing`, `librariesCreated`, ...) follow the three.
            return {**super().to_representation(instance), **instance.extra}

    @extend_schema(
        operation_id="catalog_import_lims",
        request=InputSerializer,
        responses={200: OutputSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        records = lims_records_from_csv(_read_upload(serializer.validated_data["file"]))
        result = catalog_import_lims(records=records)
        return Response(self.OutputSerializer(result).data)


class WorkflowImportApi(ApiView):
    parser_classes = [MultiPartParser]

    InputSerializer = LimsImportApi.InputSerializer
    OutputSerializer = LimsImportApi.OutputSerializer

    @extend_schema(
        operation_id="catalog_import_workflows",
        request=InputSerializer,
        responses={200: OutputSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        records = workflow_records_from_csv(_read_upload(serializer.validated_data["file"]))
        result = catalog_import_workflows(records=records)
        return Response(self.OutputSerializer(result).data)


class FastqListImportApi(ApiView):
    parser_classes = [MultiPartParser]

    class InputSerializer(StrictSerializer):
        file = serializers.FileField(help_text="BCL Convert fastq_list.csv.")
        instrumentRunId = serializers.CharField(
            max_length=255,
            validators=[
                RegexValidator(
                    json_pattern(INSTRUMENT_RUN_ID_RE), message="Not an instrument run id."
                )
            ],
        )
        baseUri = serializers.CharField(
            max_length=1024,
            validators=[DocumentedPattern(S3_URI_RE, fastq_list_base)],
            help_text="s3://bucket/prefix/ the file paths are relative to.",
        )

    OutputSerializer = LimsImportApi.OutputSerializer

    @extend_schema(
        operation_id="catalog_import_fastq_list",
        request=InputSerializer,
        responses={200: OutputSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        records = fastq_list_records_from_csv(_read_upload(data["file"]), base_uri=data["baseUri"])
        result = catalog_import_fastq_list(
            records=records, instrument_run_id=data["instrumentRunId"], base_uri=data["baseUri"]
        )
        return Response(self.OutputSerializer(result).data)


class SyncStorageApi(ApiView):
    class InputSerializer(StrictSerializer):
        uri = serializers.CharField(
            max_length=1024,
            required=False,
            allow_blank=True,
            validators=[DocumentedPattern(S3_URI_OR_EMPTY_RE, _sync_uri_check)],
            help_text="s3://bucket/prefix/ to catalogue; empty or absent refreshes every "
            "catalogued object.",
        )

    OutputSerializer = LimsImportApi.OutputSerializer

    @extend_schema(
        operation_id="catalog_sync_storage",
        request=InputSerializer,
        responses={200: OutputSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = catalog_sync_storage(uri=serializer.validated_data.get("uri") or None)
        return Response(self.OutputSerializer(result).data)


# --- Removal ------------------------------------------------------------------------------------


class RunFastqDeleteApi(ApiView):
    """Remove FASTQ rows of one instrument run (all, or those of some libraries or lanes), e.g.
    rows a fastq list imported with a wrong base URI. Stored objects seen in storage stay
    catalogued; packages already frozen keep their files."""

    required_role = CURATOR

    class OutputSerializer(serializers.Serializer):
        instrument_run_id = serializers.CharField()
        removed = serializers.IntegerField(help_text="FASTQ rows removed.")

    query_parameters = [
        list_parameter(
            "libraryId", "Only these libraries (base or as sequenced).", pattern=IDENTIFIER_RE
        ),
        list_parameter("lane", "Only these lanes (1-64).", pattern=LANE_RE),
    ]

    @extend_schema(
        operation_id="catalog_run_fastqs_delete",
        parameters=[
            OpenApiParameter(
                "instrument_run_id",
                {"type": "string", "pattern": json_pattern(INSTRUMENT_RUN_ID_RE)},
                OpenApiParameter.PATH,
                description="Instrument run id, e.g. 241024_A00130_0336_BHW7MVDSXC.",
            ),
        ],
        request=None,
        responses={200: OutputSerializer},
    )
    def delete(self, request: Request, instrument_run_id: str) -> Response:
        params = request.query_params
        removed = catalog_run_fastqs_delete(
            instrument_run_id=instrument_run_id,
            library_ids=query_list(params, "libraryId", pattern=IDENTIFIER_RE) or None,
            lanes=[int(lane) for lane in query_list(params, "lane", pattern=LANE_RE)] or None,
        )
        return Response(
            self.OutputSerializer({"instrument_run_id": instrument_run_id, "removed": removed}).data
        )
