# Vigil's HTTP API. With docker-compose.yml it runs against PostgreSQL; on its own it keeps an
# embedded SQLite store in /var/lib/vigil (mount a volume there to keep it).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIGIL_DATA_DIR=/var/lib/vigil

RUN useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin vigil \
    && mkdir -p /var/lib/vigil \
    && chown vigil:vigil /var/lib/vigil

WORKDIR /app
# Installed as root and read-only to the service user: the code cannot be changed at run time.
COPY pyproject.toml README.md ./
COPY domain ./domain
COPY application ./application
COPY infrastructure ./infrastructure
COPY interfaces ./interfaces
COPY projections ./projections
RUN pip install .

USER vigil
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
CMD ["vigil", "serve", "--host", "0.0.0.0", "--port", "8000"]
