# Build: docker build -t perfapi .
# Run:   docker run -e PERFAPI_DATABASE_URL=postgresql://user:pass@db:5432/perfapi -p 8000:8000 perfapi
# Scale: -e PERFAPI_WORKERS=N (processes in the container, one per core), and more containers
#        behind a proxy; -e PERFAPI_READ_DATABASE_URL=... for a streaming replica.
#        examples/compose/compose.yaml is the whole layout; see docs/scale-out.md.

FROM python:3.11-slim AS build
WORKDIR /build
RUN python -m venv /opt/perfapi
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
COPY migrations ./migrations
# Pinned by constraints.txt, so the image holds exactly the tested versions.
RUN /opt/perfapi/bin/pip install --no-cache-dir --constraint constraints.txt .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --user-group --home-dir /app --create-home perfapi
COPY --from=build /opt/perfapi /opt/perfapi
ENV PATH="/opt/perfapi/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PERFAPI_HOST=0.0.0.0 \
    PERFAPI_PORT=8000 \
    PERFAPI_DATA_DIR=/app/data \
    PERFAPI_WORKERS=1
USER perfapi
WORKDIR /app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
CMD ["perfapi", "serve"]
