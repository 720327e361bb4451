# One image for every Driftwarden role (db upgrade, topics create, ingest, detect, alert);
# docker-compose.yml runs each role as its own service.
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Only what the service needs (no .venv, tests or caches from the build context). The
# install is editable: migrations are read from /app/alembic, next to the package
# (monitor/db/migrate.py), so the checkout layout must stay as it is.
COPY pyproject.toml constraints.txt README.md alembic.ini ./
COPY alembic/ alembic/
COPY detectors/ detectors/
COPY monitor/ monitor/

RUN pip install --no-cache-dir -c constraints.txt -e . \
    && useradd --create-home --uid 10001 driftwarden

USER driftwarden

ENTRYPOINT ["driftwarden"]
CMD ["--help"]
