# syntax=docker/dockerfile:1
# Build: an abi3 wheel of podium (Python package + Rust core) with maturin.
FROM rust:1.90-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-dev \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/build && /opt/build/bin/pip install --no-cache-dir "maturin>=1.9,<2"
WORKDIR /src
COPY Cargo.toml Cargo.lock pyproject.toml README.md ./
COPY rust/ rust/
COPY python/ python/
RUN /opt/build/bin/maturin build --release --locked --out /wheels

# Run: slim, non-root, no compilers.
FROM python:3.12-slim-bookworm
RUN python -m venv /opt/podium
COPY --from=build /wheels/ /wheels/
RUN /opt/podium/bin/pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 65532:65532
ENV PATH=/opt/podium/bin:$PATH PYTHONUNBUFFERED=1
EXPOSE 10259
ENTRYPOINT ["podium"]
CMD ["run", "--help"]
