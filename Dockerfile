# digest in a container: `digest serve` by default; the same image runs `digest schedule`.
# The store, archive and outbox live in /var/lib/digest (a volume); the config is
# /etc/digest/digest.toml (mount it); secrets come from the environment.
#
#   docker build -t digest .
#   docker run --rm -v digest-data:/var/lib/digest -v $PWD/config:/etc/digest:ro \
#     -e DIGEST_SECRET -p 127.0.0.1:8080:8080 digest
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DIGEST_CONFIG=/etc/digest/digest.toml

WORKDIR /opt/digest
COPY pyproject.toml README.md ./
COPY digest ./digest
COPY templates ./templates
COPY config ./config
RUN pip install --no-compile . \
    && useradd --system --home-dir /var/lib/digest --shell /usr/sbin/nologin digest \
    && mkdir -p /var/lib/digest /etc/digest \
    && chown digest:digest /var/lib/digest

USER digest
WORKDIR /var/lib/digest
VOLUME ["/var/lib/digest"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"
ENTRYPOINT ["digest"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
