# One image per service, built from the repository root; the SERVICE build argument picks
# the service (registry | runner | scorer | generator | gateway | studio):
#   docker build --build-arg SERVICE=gateway -t harness-gateway .
# The image installs that service's extras and runs `python -m services.<SERVICE>` as a
# non-root user on PORT (tools/deploy.sh builds every service's image this way).
FROM python:3.11-slim

ARG SERVICE
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY libs ./libs
COPY services ./services
# Each service's extras. The registry's generator extra reads the documents of
# POST /datasets/{id}/generate (PDF text, passages) to refuse bad ones up front; the scorer
# extra brings Ragas. Images with offline embeddings (torch) install from PyTorch's CPU
# index too: pip prefers its torch "+cpu" builds to PyPI's multi-GB CUDA build.
RUN case "$SERVICE" in \
      registry)  extras=gcp,generator ;; \
      runner)    extras=gcp ;; \
      scorer)    extras=gcp,scorer,embeddings ;; \
      generator) extras=gcp,generator,scorer,embeddings ;; \
      gateway)   extras=gcp,gateway ;; \
      studio)    extras=studio ;; \
      *) echo "build with --build-arg SERVICE=registry|runner|scorer|generator|gateway|studio (got '$SERVICE')" >&2; exit 2 ;; \
    esac \
    && case ",$extras," in \
      *,embeddings,*) index="--extra-index-url https://download.pytorch.org/whl/cpu" ;; \
      *) index="" ;; \
    esac \
    && pip install ".[$extras]" $index \
    && useradd --create-home --uid 10001 harness

USER 10001
# the studio's HARNESS_URL (the registry) and HARNESS_API_KEY come from the deployment
ENV HARNESS_SERVICE=${SERVICE} HARNESS_LOG_JSON=true HARNESS_HOST=0.0.0.0 PORT=8080
EXPOSE 8080
# Cloud Run sends SIGTERM and waits; the service finishes or releases in-flight work
# (exec: python itself is PID 1 and gets the signal)
STOPSIGNAL SIGTERM
CMD ["sh", "-c", "exec python -m services.$HARNESS_SERVICE"]
