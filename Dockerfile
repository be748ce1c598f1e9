# syntax=docker/dockerfile:1
# docker build -t podium .   The image runs `podium run`; deploy/ shows how.

# Build: an abi3 wheel (Python package + Rust core) with maturin. Compilers stay in this stage.
FROM rust:1.90-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-dev \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/build && /opt/build/bin/pip install --no-cache-dir "maturin>=1.9,<2"
WORKDIR /src
COPY Cargo.toml Cargo.lock pyproject.toml README.md ./
COPY rust/ rust/
COPY python/ python/
# --locked: the crates of Cargo.lock, nothing newer.
RUN /opt/build/bin/maturin build --release --locked --out /wheels

# Run: slim Python, the wheel and its dependencies in a venv, a non-root user, no compilers
# (python:*-slim ships none, and nothing here installs one).
FROM python:3.12-slim-bookworm AS runtime
RUN groupadd --gid 65532 podium \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin podium
COPY --from=build /wheels/ /tmp/wheels/
RUN python -m venv /opt/podium \
 && /opt/podium/bin/pip install --no-cache-dir /tmp/wheels/*.whl \
 && rm -rf /tmp/wheels
# Numeric, so the kubelet can verify runAsNonRoot without reading /etc/passwd.
USER 65532:65532
# The root filesystem is read-only in deploy/: no bytecode is written at run time (pip compiled
# it at install).
ENV PATH=/opt/podium/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
EXPOSE 10259
ENTRYPOINT ["podium"]
CMD ["run", "--help"]
