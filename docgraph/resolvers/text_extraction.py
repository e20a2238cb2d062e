"""Reading the text out of a file: PDFs, plain text and CSV, DOCX, and images through OCR.

Runs in a child process of its own (``python -m docgraph.resolvers.text_extraction``,
started by ``resolvers.texts``), never in a server worker: a hostile or broken
file that makes PDFium or Tesseract crash, hang or eat memory ends that child,
which its parent kills at the time limit, and the document's text is recorded
``FAILED``; the worker goes on.

Bounded: at most ``max_pages`` pages of a PDF, ``max_chars`` characters of
text, and the child's own deadline, past which it stops recognising further
pages and returns what it has. Images and PDF pages without a text layer are
read with Tesseract (``tesseract`` on the PATH, one process per page, its
languages from DOCGRAPH_OCR_LANGUAGES); without it they are ``SKIPPED``.

The child reads its arguments as JSON (argv[1]) and the file's path (argv[2]),
and writes one JSON object on stdout: ``{"status": "done", "text": ...,
"pages": n, "ocr_pages": n, "truncated": bool}``, or ``{"status": "skipped" |
"failed", "reason": ...}``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from typing import IO, Any
from xml.etree import ElementTree

PDF_TYPES = frozenset({"application/pdf"})
DOCX_TYPES = frozenset({
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document"})
TEXT_TYPES = frozenset({"application/json", "application/csv", "application/xml",
                        "application/x-ndjson"})
OCR_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/tiff",
                       "image/bmp"})
_PILLOW_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "TIFF", "BMP")

# A PDF page with fewer characters than this in its text layer is a scan: OCR it.
MIN_TEXT_LAYER_CHARS = 16
# Pages are rendered for OCR at this resolution (dots per inch): plenty for print.
OCR_DPI = 200
# Larger images are scaled down before OCR (Tesseract's memory grows with pixels).
OCR_MAX_PIXELS = 40_000_000
# Decompressed bytes of a DOCX's document.xml read at most (a zip bomb stops here).
DOCX_MAX_XML_BYTES = 256 * 1024 * 1024
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
# Control characters other than tab and newline never reach the index (NUL cannot).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BLANK_LINES = re.compile(r"\n\s*\n(\s*\n)+")


class Skip(Exception):
    """Nothing to extract, and no error: the reason is recorded."""


class Fail(Exception):
    """The file could not be read: the reason is recorded."""


@dataclasses.dataclass(frozen=True)
class Limits:
    max_pages: int
    max_chars: int
    ocr_languages: tuple[str, ...]
    deadline: float  # time.monotonic() past which no further page is recognised


@dataclasses.dataclass
class Extracted:
    text: str
    pages: int = 0
    ocr_pages: int = 0
    truncated: bool = False


def kind_of(mime_type: str) -> str | None:
    """How the text of a file of ``mime_type`` is read: pdf, docx, text, image, or None."""
    if mime_type in PDF_TYPES:
        return "pdf"
    if mime_type in DOCX_TYPES:
        return "docx"
    if mime_type.startswith("text/") or mime_type in TEXT_TYPES:
        return "text"
    if mime_type in OCR_TYPES:
        return "image"
    return None


def clean(text: str) -> str:
    """Control characters out, line ends unified, runs of blank lines shortened."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub(" ", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


class _Collector:
    """Text gathered up to ``max_chars``; ``full`` once reached."""

    def __init__(self, max_chars: int) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.max_chars = max_chars
        self.truncated = False

    @property
    def full(self) -> bool:
        return self.size >= self.max_chars

    def add(self, text: str) -> None:
        if self.full:
            if text.strip():
                self.truncated = True
            return
        room = self.max_chars - self.size
        if len(text) > room:
            text = text[:room]
            self.truncated = True
        self.parts.append(text)
        self.size += len(text)

    def text(self) -> str:
        return "".join(self.parts)


# -- plain text ---------------------------------------------------------------------------

def decode(data: bytes) -> str:
    """Bytes as text: UTF-8 (or UTF-16 with its byte order mark), else Windows-1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 3:  # cut in the middle of the last character
            return data[:exc.start].decode("utf-8-sig", errors="replace")
        return data.decode("cp1252", errors="replace")


def extract_plain(fp: IO[bytes], limits: Limits) -> Extracted:
    # Four bytes per character at most in UTF-8: enough for max_chars.
    data = fp.read(limits.max_chars * 4 + 4)
    more = bool(fp.read(1))
    text = decode(data)
    collector = _Collector(limits.max_chars)
    collector.add(text)
    return Extracted(collector.text(), truncated=collector.truncated or more)


# -- DOCX ---------------------------------------------------------------------------------

class _Bounded(io.RawIOBase):
    """A stream that refuses to give more than ``limit`` bytes."""

    def __init__(self, raw: IO[bytes], limit: int) -> None:
        self.raw = raw
        self.left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.left <= 0:
            raise Fail("the DOCX document is too large once decompressed")
        data = self.raw.read(min(len(buffer), self.left))
        self.left -= len(data)
        buffer[:len(data)] = data
        return len(data)


def extract_docx(fp: IO[bytes], limits: Limits) -> Extracted:
    try:
        archive = zipfile.ZipFile(fp)
    except (zipfile.BadZipFile, OSError) as exc:
        raise Fail(f"not a readable DOCX file ({exc})") from None
    collector = _Collector(limits.max_chars)
    with archive:
        try:
            member = archive.open("word/document.xml")
        except KeyError:
            raise Fail("not a DOCX file: it has no word/document.xml") from None
        # zipfile raises NotImplementedError for a compression method it lacks, and
        # RuntimeError for an encrypted member: either way, not a DOCX we can read.
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError) as exc:
            raise Fail(f"not a readable DOCX file ({exc})") from None
        with member:
            stream = io.BufferedReader(_Bounded(member, DOCX_MAX_XML_BYTES))
            try:
                # Bounded above; expat (>= 2.4.1) refuses entity-expansion bombs, and
                # ElementTree never fetches external entities.
                for event, element in ElementTree.iterparse(  # noqa: S314
                        stream, events=("end",)):
                    tag = element.tag
                    if tag == f"{_W}t" and element.text:
                        collector.add(element.text)
                    elif tag == f"{_W}tab":
                        collector.add("\t")
                    elif tag in (f"{_W}br", f"{_W}cr"):
                        collector.add("\n")
                    elif tag == f"{_W}p":
                        collector.add("\n")
                        element.clear()
                    if collector.full and event == "end" and tag == f"{_W}p":
                        collector.truncated = True
                        break
            except (ElementTree.ParseError, zipfile.BadZipFile, OSError, EOFError) as exc:
                raise Fail(f"not a readable DOCX file ({exc})") from None
    return Extracted(collector.text(), truncated=collector.truncated)


# -- OCR ----------------------------------------------------------------------------------

def tesseract() -> str | None:
    return shutil.which("tesseract")


def ocr_image(image: Any, limits: Limits) -> str:
    """The text Tesseract reads in a Pillow image (within the deadline)."""
    program = tesseract()
    if program is None:
        raise Skip("OCR is not available: tesseract is not installed")
    if image.width * image.height > OCR_MAX_PIXELS:
        scale = (OCR_MAX_PIXELS / (image.width * image.height)) ** 0.5
        image = image.resize((max(1, int(image.width * scale)),
                              max(1, int(image.height * scale))))
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    png = io.BytesIO()
    image.save(png, "PNG")
    left = limits.deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    try:
        done = subprocess.run(
            [program, "stdin", "stdout", "-l", "+".join(limits.ocr_languages)],
            input=png.getvalue(), capture_output=True, timeout=left, check=False,
            env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    except subprocess.TimeoutExpired:
        raise TimeoutError from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise Fail("OCR failed: " + (message[-1] if message else f"exit {done.returncode}"))
    return done.stdout.decode("utf-8", errors="replace")


def extract_image(fp: IO[bytes], limits: Limits) -> Extracted:
    from PIL import Image, ImageOps

    if tesseract() is None:
        raise Skip("OCR is not available: tesseract is not installed")
    Image.MAX_IMAGE_PIXELS = OCR_MAX_PIXELS * 4
    try:
        with Image.open(fp, formats=_PILLOW_FORMATS) as im:
            if im.width * im.height > OCR_MAX_PIXELS * 4:
                raise Skip("the image is too large to read")
            im.draft("RGB", (8000, 8000))
            image = ImageOps.exif_transpose(im.convert("RGB"))
    except (Skip, Fail):
        raise
    except Exception as exc:  # hostile files make Pillow raise almost anything
        raise Fail(f"not a readable image ({exc.__class__.__name__})") from None
    try:
        text = ocr_image(image, limits)
    except TimeoutError:
        raise Fail("OCR took longer than the time limit") from None
    collector = _Collector(limits.max_chars)
    collector.add(text)
    return Extracted(collector.text(), pages=1, ocr_pages=1, truncated=collector.truncated)


# -- PDF ----------------------------------------------------------------------------------

def extract_pdf(path: str, limits: Limits) -> Extracted:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        raise Fail(f"not a readable PDF ({exc})") from None
    collector = _Collector(limits.max_chars)
    result = Extracted("")
    ocr = tesseract() is not None
    try:
        count = len(pdf)
        if count > limits.max_pages:
            collector.truncated = True
        for index in range(min(count, limits.max_pages)):
            if collector.full:
                collector.truncated = True
                break
            page = pdf[index]
            try:
                textpage = page.get_textpage()
                text = textpage.get_text_range()
                textpage.close()
                if len(text.strip()) < MIN_TEXT_LAYER_CHARS and ocr:
                    if time.monotonic() >= limits.deadline:
                        collector.truncated = True
                        break
                    bitmap = page.render(scale=OCR_DPI / 72, grayscale=True)
                    try:
                        text = ocr_image(bitmap.to_pil(), limits)
                    except TimeoutError:
                        collector.truncated = True
                        break
                    finally:
                        bitmap.close()
                    result.ocr_pages += 1
            finally:
                page.close()
            collector.add(text)
            collector.add("\n\n")
            result.pages += 1
    except pdfium.PdfiumError as exc:
        raise Fail(f"not a readable PDF ({exc})") from None
    finally:
        pdf.close()
    result.text = collector.text()
    result.truncated = collector.truncated
    return result


# -- the child process --------------------------------------------------------------------

def extract(path: str, mime_type: str, limits: Limits) -> Extracted:
    """The text of the file at ``path``; ``Skip`` or ``Fail`` otherwise."""
    kind = kind_of(mime_type)
    if kind is None:
        raise Skip(f"{mime_type} is not a type docgraph reads text from")
    if kind == "pdf":
        extracted = extract_pdf(path, limits)
    else:
        with open(path, "rb") as fp:
            if kind == "docx":
                extracted = extract_docx(fp, limits)
            elif kind == "image":
                extracted = extract_image(fp, limits)
            else:
                extracted = extract_plain(fp, limits)
    extracted.text = clean(extracted.text)[:limits.max_chars]
    return extracted


def run(arguments: dict[str, Any], path: str) -> dict[str, Any]:
    limits = Limits(max_pages=int(arguments["max_pages"]), max_chars=int(arguments["max_chars"]),
                    ocr_languages=tuple(arguments["ocr_languages"]),
                    deadline=time.monotonic() + float(arguments["seconds"]))
    try:
        extracted = extract(path, str(arguments["mime_type"]), limits)
    except Skip as exc:
        return {"status": "skipped", "reason": str(exc)}
    except Fail as exc:
        return {"status": "failed", "reason": str(exc)}
    return {"status": "done", "text": extracted.text, "pages": extracted.pages,
            "ocr_pages": extracted.ocr_pages, "truncated": extracted.truncated}


def main(argv: list[str]) -> int:
    result = run(json.loads(argv[1]), argv[2])
    sys.stdout.write(json.dumps(result, ensure_ascii=True))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
