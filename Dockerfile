FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DOCGRAPH_HOST=0.0.0.0 \
    DOCGRAPH_PORT=8000

# libmagic: file types read from the bytes (docgraph.resolvers.filetypes). Tesseract
# reads images and scanned PDF pages for search (more languages: add their
# tesseract-ocr-LANG packages and list them in DOCGRAPH_OCR_LANGUAGES).
RUN apt-get update \
    && apt-get install -y --no-install-recommends file tesseract-ocr tesseract-ocr-eng \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# The locked versions, hashes checked, wheels only (its own layer: it changes with the lock).
COPY requirements/runtime.txt requirements/runtime.txt
RUN pip install --require-hashes --only-binary :all: -r requirements/runtime.txt
# docgraph itself, built with the locked setuptools; its dependencies are all above.
COPY pyproject.toml README.md ./
COPY docgraph ./docgraph
RUN pip install --no-deps --no-build-isolation . && useradd --system --uid 10001 --no-create-home docgraph

USER docgraph
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status != 200)"
CMD ["docgraph", "serve"]
