from django.urls import path

from catalog_app import api

urlpatterns = [
    path("libraries", api.LibraryListApi.as_view(), name="catalog-libraries"),
    path("runs", api.RunListApi.as_view(), name="catalog-runs"),
    path(
        "runs/<str:instrument_run_id>/fastqs",
        api.RunFastqDeleteApi.as_view(),
        name="catalog-run-fastqs",
    ),
    path("workflow-runs", api.WorkflowRunListApi.as_view(), name="catalog-workflow-runs"),
    path("import/lims", api.LimsImportApi.as_view(), name="catalog-import-lims"),
    path("import/workflows", api.WorkflowImportApi.as_view(), name="catalog-import-workflows"),
    path("import/fastq-list", api.FastqListImportApi.as_view(), name="catalog-import-fastq-list"),
    path("sync-storage", api.SyncStorageApi.as_view(), name="catalog-sync-storage"),
]
