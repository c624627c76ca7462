# Settle node image.
#   Real users: docker compose build            (pulls python:3.11-slim, installs from PyPI)
#   Offline/CI: put wheels in .docker-wheels/ and pass --build-arg BASE_IMAGE=<local python image>
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONUNBUFFERED=1 \
    PATH=/opt/settle/bin:$PATH

COPY . /src
RUN python3 -m venv /opt/settle \
 && if ls /src/.docker-wheels/*.whl >/dev/null 2>&1; then \
        /opt/settle/bin/pip install --no-index --find-links /src/.docker-wheels settle; \
    else \
        /opt/settle/bin/pip install --no-cache-dir /src; \
    fi \
 && rm -rf /src

WORKDIR /net
# rpc.port and p2p.port of configs/node.example.toml
EXPOSE 26657 26756
CMD ["settle", "--help"]
