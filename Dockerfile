# Production image: web (gunicorn), worker, beat and listener all run from it.
FROM python:3.11-slim-bookworm

ENV DEPLOYMENT=production \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_COMPILE_BYTECODE=1 \
    PATH="/opt/venv/bin:$PATH"

# WeasyPrint needs pango and fonts; curl for container health checks.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b \
       fonts-dejavu-core curl \
    && rm -rf /var/lib/apt/lists/*

RUN pip install --no-cache-dir "uv==0.13.9"

WORKDIR /app
COPY pyproject.toml uv.lock ./
# The data-sharing-tool CLI and the formats package are workspace members: uv installs them with
# the dependencies.
COPY cli ./cli
COPY formats ./formats
RUN uv sync --frozen --no-dev --no-install-project

COPY . .
# Production settings need a key and hosts even to collect static files: throwaway values here.
RUN SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    python manage.py collectstatic --noinput -v 0

RUN useradd --system --uid 1000 datasharing && mkdir -p /app/var && chown datasharing /app/var
USER datasharing
EXPOSE 8000
CMD ["gunicorn", "datasharing.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4", "--threads", "4", "--timeout", "120", "--limit-request-line", "8190", "--access-logfile", "-"]
