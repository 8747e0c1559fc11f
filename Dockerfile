# One image for web, worker and beat (docker-compose.yml picks the command). Built from the
# production lock (requirements/prod.lock: hashed pins, no dev tools, no embedded engines);
# .dockerignore keeps tests, benchmarks and local data out. Runs as the unprivileged `iop`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

RUN useradd --create-home --uid 1000 iop
COPY requirements/prod.lock ./requirements/prod.lock
RUN pip install --no-cache-dir --require-hashes -r requirements/prod.lock

COPY . .
# Static files are collected at build time and served from STATIC_ROOT (no app finders).
ENV STATIC_ROOT=/app/staticfiles WHITENOISE_USE_FINDERS=0
RUN IOP_DATA_DIR=/tmp/iop DATABASE_URL=postgresql://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
    SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput --verbosity 0 \
    && rm -rf /tmp/iop \
    && mkdir -p /data && chown iop /data
USER iop
ENV IOP_DATA_DIR=/data

EXPOSE 8000
CMD ["python", "-m", "server.serve", "-b", "0.0.0.0", "-p", "8000", "--access-log", "/dev/null", "server.asgi:application"]
