"""Catalog REST API: read-only lists, CSV importers (multipart upload), storage sync and the
removal of a run's FASTQ rows.

One view per operation. Every importer answers with `LimsImportApi.OutputSerializer` (component
`ImportResult`); the LIMS and workflow importers take the same upload
(`LimsImportApi.InputSerializer`, component `ImportInput`).
"""

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog_app import selectors
from catalog_app.importers.base import ImportResult
from catalog_app.importers.fastq_list import catalog_import_fastq_list, fastq_list_records_from_csv
from catalog_app.importers.lims import catalog_import_lims, lims_records_from_csv
from catalog_app.importers.storage import catalog_sync_storage
from catalog_app.importers.workflows import catalog_import_workflows, workflow_records_from_csv
from catalog_app.models import Library, SequencingRun, WorkflowRun
from catalog_app.services import catalog_run_fastqs_delete
from datasharing.auth import CURATOR
from datasharing.csvfile import decode_upload
from datasharing.errors import PayloadTooLarge
from datasharing.pagination import EnvelopePagination
from datasharing.query import query_list


def _list_param(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        str,
        many=True,
        description=description + " Repeat the key or separate values with commas.",
    )


# --- Read-only lists ----------------------------------------------------------------------------


class LibraryListApi(APIView):
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

    @extend_schema(
        operation_id="catalog_libraries_list",
        parameters=[
            _list_param("libraryId", "Library ids."),
            _list_param("subjectId", "Internal or external subject ids."),
            _list_param("projectId", "Project ids."),
            _list_param("instrumentRunId", "Instrument run ids."),
            _list_param("sampleId", "Sample ids."),
            _list_param("type", "Library types (WGS, WTS, ctDNA ...)."),
            _list_param("assay", "Assays."),
            _list_param("phenotype", "Phenotypes (tumor, normal ...)."),
        ],
        responses={200: OutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        libraries = selectors.library_list(
            library_ids=query_list(params, "libraryId"),
            subject_ids=query_list(params, "subjectId"),
            project_ids=query_list(params, "projectId"),
            instrument_run_ids=query_list(params, "instrumentRunId"),
            sample_ids=query_list(params, "sampleId"),
            types=query_list(params, "type"),
            assays=query_list(params, "assay"),
            phenotypes=query_list(params, "phenotype"),
        )
        return self.pagination_class.response(
            queryset=libraries, serializer_class=self.OutputSerializer, request=request, view=self
        )


class RunListApi(APIView):
    class OutputSerializer(serializers.ModelSerializer):
        library_count = serializers.IntegerField()

        class Meta:
            model = SequencingRun
            fields = ["instrument_run_id", "run_date", "library_count"]

    pagination_class = EnvelopePagination

    @extend_schema(
        operation_id="catalog_runs_list",
        parameters=[
            _list_param("instrumentRunId", "Instrument run ids."),
            _list_param("libraryId", "Library ids."),
        ],
        responses={200: OutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        runs = selectors.run_list(
            instrument_run_ids=query_list(params, "instrumentRunId"),
            library_ids=query_list(params, "libraryId"),
        )
        return self.pagination_class.response(
            queryset=runs, serializer_class=self.OutputSerializer, request=request, view=self
        )


class WorkflowRunListApi(APIView):
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

    @extend_schema(
        operation_id="catalog_workflow_runs_list",
        parameters=[
            _list_param("portalRunId", "Portal run ids."),
            _list_param("workflowName", "Workflow names."),
            _list_param("status", "Workflow statuses (SUCCEEDED, FAILED ...)."),
            _list_param("libraryId", "Library ids."),
        ],
        responses={200: OutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        runs = selectors.workflow_run_list(
            portal_run_ids=query_list(params, "portalRunId"),
            workflow_names=query_list(params, "workflowName"),
            statuses=query_list(params, "status"),
            library_ids=query_list(params, "libraryId"),
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


class LimsImportApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema_serializer(component_name="ImportInput")
    class InputSerializer(serializers.Serializer):
        file = serializers.FileField(help_text="The CSV file.")

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


class WorkflowImportApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

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


class FastqListImportApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField(help_text="BCL Convert fastq_list.csv.")
        instrumentRunId = serializers.CharField(max_length=255)
        baseUri = serializers.CharField(
            max_length=1024, help_text="s3://bucket/prefix/ the file paths are relative to."
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


class SyncStorageApi(APIView):
    class InputSerializer(serializers.Serializer):
        uri = serializers.CharField(
            max_length=1024,
            required=False,
            allow_blank=True,
            help_text="s3://bucket/prefix/ to catalogue; empty refreshes every catalogued object.",
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


class RunFastqDeleteApi(APIView):
    """Remove FASTQ rows of one instrument run (all, or those of some libraries or lanes), e.g.
    rows a fastq list imported with a wrong base URI. Stored objects seen in storage stay
    catalogued; packages already frozen keep their files."""

    required_role = CURATOR

    class InputSerializer(serializers.Serializer):
        library_id = serializers.ListField(
            child=serializers.CharField(max_length=100), required=False
        )
        lane = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=64), required=False
        )

    class OutputSerializer(serializers.Serializer):
        instrument_run_id = serializers.CharField()
        removed = serializers.IntegerField(help_text="FASTQ rows removed.")

    @extend_schema(
        operation_id="catalog_run_fastqs_delete",
        parameters=[
            OpenApiParameter(
                "instrument_run_id",
                str,
                OpenApiParameter.PATH,
                description="Instrument run id, e.g. 241024_A00130_0336_BHW7MVDSXC.",
            ),
            _list_param("libraryId", "Only these libraries (base or as sequenced)."),
            OpenApiParameter(
                "lane",
                int,
                many=True,
                description="Only these lanes (1-64). Repeat the key or separate values with "
                "commas.",
            ),
        ],
        request=None,
        responses={200: OutputSerializer},
    )
    def delete(self, request: Request, instrument_run_id: str) -> Response:
        params = request.query_params
        serializer = self.InputSerializer(
            data={"library_id": query_list(params, "libraryId"), "lane": query_list(params, "lane")}
        )
        serializer.is_valid(raise_exception=True)
        removed = catalog_run_fastqs_delete(
            instrument_run_id=instrument_run_id,
            library_ids=serializer.validated_data.get("library_id") or None,
            lanes=serializer.validated_data.get("lane") or None,
        )
        return Response(
            self.OutputSerializer({"instrument_run_id": instrument_run_id, "removed": removed}).data
        )
