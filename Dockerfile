# The platform's one image: web (gunicorn), Celery worker and beat all run it (docker-compose.yml).
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 1000 app
WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

COPY . .
# Translations and static files are built into the image: nothing is fetched at run time.
RUN if [ -d locale ]; then pybabel compile -d locale -D django; fi \
    && ENVIRONMENT=production SECRET_KEY=build-only-not-a-secret COLLECTED_STATIC=1 \
       python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p /app/var/media /app/var/outbox /app/var/models \
    && chown -R app:app /app/var

USER app
ENV ENVIRONMENT=production
EXPOSE 8000

# /healthz answers 200 when the database and the broker answer (see postpurchase/views.py).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, sys, urllib.request as u; host = os.environ.get('ALLOWED_HOSTS', 'localhost').split(',')[0].strip(); r = u.Request('http://127.0.0.1:8000/healthz', headers={'Host': host, 'X-Forwarded-Proto': 'https'}); sys.exit(0 if u.urlopen(r, timeout=4).status == 200 else 1)"

# Threaded workers: a webhook (and most page work) waits on PostgreSQL, and the threads of a
# process overlap those waits (docs/operations.md: workers about the cores, 8 threads each).
CMD ["gunicorn", "postpurchase.wsgi:application", \
     "--bind", "0.0.0.0:8000", \
     "--worker-class", "gthread", \
     "--workers", "2", \
     "--threads", "8", \
     "--timeout", "30", \
     "--forwarded-allow-ips", "*", \
     "--access-logfile", "-"]
