# kener-api in a container: a slim Python base, a non-root user, the data in a volume.
#   docker build -t kener-api . && docker run -p 8080:8080 -v kener-data:/data kener-api
# The first start generates an API token into /data/api-token and prints it; or set API_TOKEN.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KENER_DATA_DIR=/data \
    KENER_HOST=0.0.0.0 \
    KENER_PORT=8080

WORKDIR /opt/kener-api
# The distribution carries the contract and the default monitors.yaml and site.yaml.
COPY pyproject.toml README.md LICENSE openapi.yaml ./
COPY kener_api ./kener_api
COPY handlers ./handlers
COPY storage ./storage
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin kener \
    && mkdir /data && chown kener /data

USER 10001
VOLUME ["/data"]
EXPOSE 8080
# Liveness: the process answers (GET /healthz touches no database; /readyz does).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
CMD ["kener-api", "serve"]
