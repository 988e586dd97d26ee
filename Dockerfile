# One image for every scizoo deployable: scanlog, scidog, scicow, scireduce, scifly
# (the Helm chart in helm/scizoo picks the command per Deployment).
# Not built in CI here: tests/system/test_helm.py only checks it at lint level.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY scizoo ./scizoo
COPY scifish ./scifish
COPY scidog ./scidog
COPY scicow ./scicow
COPY scifly ./scifly
COPY scanlog_api ./scanlog_api
COPY scireduce ./scireduce
RUN python -m venv /opt/scizoo \
 && /opt/scizoo/bin/pip install ".[all]"

FROM python:3.11-slim
ENV PATH=/opt/scizoo/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLCONFIGDIR=/tmp/matplotlib
COPY --from=build /opt/scizoo /opt/scizoo
COPY config /etc/scizoo/defaults
RUN groupadd --system --gid 10001 scizoo \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home scizoo \
 && mkdir -p /var/lib/scireduce /var/spool/scifly /var/lib/scifly \
 && chown 10001:10001 /var/lib/scireduce /var/spool/scifly /var/lib/scifly \
 && for c in scanlog scidog scicow scireduce scifly; do /opt/scizoo/bin/$c --help > /dev/null; done
USER 10001:10001
WORKDIR /tmp
EXPOSE 8000 8010 9100 9101 9102
# The chart passes the command as args, e.g. ["scicow", "run"].
ENTRYPOINT []
CMD ["scanlog", "serve", "--host", "0.0.0.0", "--port", "8000"]
