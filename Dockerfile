# Slim, non-root image. stdio by default (for MCP hosts that launch containers):
#   docker run -i --rm -e OUTPERFORM_CLIENT_ID -e OUTPERFORM_CLIENT_SECRET outperform-mcp
# Streamable HTTP with a flag (a bearer token is required off loopback):
#   docker run --rm -p 8000:8000 -e OUTPERFORM_MCP_TOKEN -e OUTPERFORM_CLIENT_ID -e OUTPERFORM_CLIENT_SECRET \
#     outperform-mcp --http --host 0.0.0.0 --port 8000
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY outperform_mcp ./outperform_mcp
COPY prompts ./prompts
# Build the wheel, then install it: .ci/image.sh repeats these two lines without Docker.
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .
RUN pip install --no-cache-dir --prefix=/install "$(ls /dist/*.whl)[postgres]"

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 OUTPERFORM_DATA_DIR=/data
COPY --from=build /install /usr/local
RUN useradd --create-home --uid 10001 outperform && mkdir -p /data && chown outperform /data
USER outperform
VOLUME ["/data"]
EXPOSE 8000
ENTRYPOINT ["outperform-mcp"]
