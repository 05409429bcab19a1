FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY kinto_clone ./kinto_clone
COPY kinto ./kinto
RUN pip install .
COPY config ./config

# An unprivileged user; config/kinto.ini keeps its SQLite database in /app/data.
RUN useradd --system --uid 10001 kinto \
    && mkdir -p /app/data \
    && chown kinto /app/data
USER kinto

# The SQLite database of config/kinto.ini: keep it outside the container's layer.
VOLUME ["/app/data"]

EXPOSE 8888
# Healthy while /v1/__heartbeat__ answers 200: every backend reachable.
# (The slim image has no curl; urlopen raises on 503 or no answer.)
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8888/v1/__heartbeat__', timeout=8)"]
# Inside a container the server must listen on every interface, not only loopback.
# Settings can be changed with KINTO_<NAME> environment variables.
CMD ["kinto", "start", "--ini", "config/kinto.ini", "--host", "0.0.0.0", "--port", "8888"]
