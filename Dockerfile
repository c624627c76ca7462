# Settle node image.
#   Real users: docker compose build            (pulls python:3.11-slim, installs from PyPI)
#   Offline/CI: put wheels in .docker-wheels/ and pass --build-arg BASE_IMAGE=<local python image>
#   (the project's wheel, built on the host by `pip wheel .`, carries the state tree's C extension
#   when the host has a compiler; without it the image runs the pure-Python tree)
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONUNBUFFERED=1 \
    PATH=/opt/settle/bin:$PATH

COPY . /src
# Without wheels: a compiler for the state tree's optional C extension (ledger/statetree/_native.c),
# removed after the install; the last step prints which state tree code the image runs.
RUN python3 -m venv /opt/settle \
 && if ls /src/.docker-wheels/*.whl >/dev/null 2>&1; then \
        /opt/settle/bin/pip install --no-index --find-links /src/.docker-wheels settle; \
    else \
        apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev libssl-dev \
        && /opt/settle/bin/pip install --no-cache-dir /src \
        && apt-get purge -y --auto-remove gcc libc6-dev libssl-dev && rm -rf /var/lib/apt/lists/*; \
    fi \
 && /opt/settle/bin/python -c "import ledger.statetree.tree as t; print('state tree:', 'C' if t.NATIVE else 'pure Python')" \
 && rm -rf /src

WORKDIR /net
# rpc.port and p2p.port of configs/node.example.toml
EXPOSE 26657 26756
CMD ["settle", "--help"]
