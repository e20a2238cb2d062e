"""Real files with text in them, made here: a PDF with a text layer, a picture of text,
a scanned (image-only) PDF, a DOCX."""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw, ImageFont


def pdf_with_text(*lines: str) -> bytes:
    """A one-page PDF whose text layer holds ``lines`` (Helvetica, 14 pt)."""
    def escaped(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    content = ("BT /F1 14 Tf 72 760 Td 18 TL "
               + " ".join(f"({escaped(line)}) '" for line in lines) + " ET")
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n"
            "%%EOF\n").encode()
    return bytes(out)


def text_picture(text: str, fmt: str = "PNG") -> bytes:
    """A picture of one line of black text on white, drawn with Pillow."""
    font = ImageFont.load_default(size=40)
    width = int(font.getlength(text)) + 80
    image = Image.new("L", (width, 120), 255)
    ImageDraw.Draw(image).text((40, 30), text, fill=0, font=font)
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def docx_with_text(*paragraphs: str) -> bytes:
    """A minimal DOCX (WordprocessingML) holding ``paragraphs``."""
    body = "".join(f"<w:p><w:r><w:t>{escape(p)}</w:t></w:r></w:p>" for p in paragraphs)
    document = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/'
                f'2006/main"><w:body>{body}</w:body></w:document>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml",
                         '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                         'package/2006/content-types"/>')
        archive.writestr("word/document.xml", document)
    return out.getvalue()


def scanned_pdf(text: str) -> bytes:
    """A PDF of one page that is only a picture of ``text`` (no text layer): a scan."""
    out = io.BytesIO()
    with Image.open(io.BytesIO(text_picture(text))) as picture:
        picture.convert("RGB").save(out, "PDF", resolution=100)
    return out.getvalue()
