# One image per place, chosen by the extra it installs (docs/deploy.md):
#   docker build -t <registry>/scizoo:<version> .                                    scanlog, scidog (default)
#   docker build --build-arg SCIZOO_EXTRAS=scicow -t <registry>/scizoo-scicow:<version> .
#   docker build --build-arg SCIZOO_EXTRAS=reduce -t <registry>/scizoo-reduce:<version> .
#   docker build --build-arg SCIZOO_EXTRAS=scifly -t <registry>/scizoo-scifly:<version> .
#   docker build --build-arg SCIZOO_EXTRAS=fixity -t <registry>/scizoo-fixity:<version> .
# so the web image carries no Kafka client, and no image carries Sardana (the recorder runs in
# the MacroServer's own environment). The Helm chart in helm/scizoo names these images.
# Every version is the one CI tested: constraints.txt (make lock refreshes it).
# Not built in CI here: tests/system/test_helm.py only checks it at lint level.
FROM python:3.11-slim AS build
ARG SCIZOO_EXTRAS=web,scidog,oidc
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md LICENSE constraints.txt ./
COPY scizoo ./scizoo
COPY scifish ./scifish
COPY scidog ./scidog
COPY scicow ./scicow
COPY scifly ./scifly
COPY scanlog_api ./scanlog_api
COPY scireduce ./scireduce
COPY scifix ./scifix
RUN python -m venv /opt/scizoo \
 && /opt/scizoo/bin/pip install -c constraints.txt ".[${SCIZOO_EXTRAS}]" \
 && /opt/scizoo/bin/pip check

FROM python:3.11-slim
ARG SCIZOO_EXTRAS=web,scidog,oidc
LABEL org.opencontainers.image.licenses="BSD-3-Clause" \
      org.scizoo.extras="${SCIZOO_EXTRAS}"
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
 && /opt/scizoo/bin/scizoo --version \
 # The image's places import with what it installed (--version alone imports none of them).
 && for extra in $(echo "${SCIZOO_EXTRAS}" | tr ',' ' '); do \
      case "$extra" in \
        web) module=scanlog_api._app ;; scidog) module=scidog._app ;; scicow) module=scicow._consumer ;; \
        reduce) module=scireduce._loop ;; scifly) module=scifly._watch ;; capture) module=scifish._capture ;; \
        fixity) module=scifix._loop ;; \
        *) module= ;; \
      esac; \
      [ -z "$module" ] || /opt/scizoo/bin/python -c "import $module" || exit 1; \
    done
USER 10001:10001
WORKDIR /tmp
EXPOSE 8000 8010 9100 9101 9102 9103
# The chart passes the command as args, e.g. ["scicow", "run"].
ENTRYPOINT []
CMD ["scanlog", "serve", "--host", "0.0.0.0", "--port", "8000"]
