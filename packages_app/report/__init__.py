"""The package report: what is in a package, for people to review before it is shared.

- `content.report_content_build(package=)` reads the package's frozen rows into a ReportContent.
- `render.report_html_render(content)` / `render.report_pdf_render(content)` render it.
- `charts` draws inline SVG; `formatting` holds helpers shared with the page's JavaScript.

Writing the artifacts to S3 (and recording their keys) is `packages_app.report.artifacts`' job.
"""
