# Deputy's image: `docker build -t deputy .`, then `docker run -p 8080:8080 -v deputy-data:/data deputy`
# (everything in one container, embedded Redis) or see docker-compose.yml for serve/worker/scheduler on Redis.

FROM python:3.11-slim AS build
ENV UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/app/.venv UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
RUN pip install --no-cache-dir "uv==0.13.9"
WORKDIR /app
# Dependencies first, from the lock file, so code changes reuse this layer.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY orchestrator ./orchestrator
COPY agents ./agents
COPY bot ./bot
COPY memory ./memory
COPY connectors ./connectors
COPY config ./config
RUN uv sync --frozen --no-dev --no-editable

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 deputy && mkdir /data && chown deputy:deputy /data
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    DEPUTY_DATA_DIR=/data \
    DEPUTY_HOST=0.0.0.0 \
    DEPUTY_PORT=8080 \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    PYTHONUNBUFFERED=1
USER deputy
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('DEPUTY_PORT', '8080') + '/healthz', timeout=4)"]
ENTRYPOINT ["deputy"]
CMD ["up"]
