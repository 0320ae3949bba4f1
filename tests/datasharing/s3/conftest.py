"""The S3 objects and fault-injecting proxy of the push tests, for the tests of the S3 package."""

from tests.sharing_app.conftest import (  # noqa: F401 - fixtures, found here by pytest
    dest_factory,
    push_buckets,
    s3_proxy,
    source_files,
)
