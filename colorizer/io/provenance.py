"""What a colorized file says about itself, so nobody takes it for an original colour photo.

Every result written by the CLI, the app or `colorizer.save` carries one XMP packet (PNG: an
iTXt chunk `XML:com.adobe.xmp`; JPEG: an APP1 XMP segment) holding the IPTC digital source type
for AI-assisted edits and the facts of the run (`Provenance`), plus the original's EXIF (date
taken, camera ...) with Orientation reset to 1, since the pixels are already upright. Optional:
a small visible mark (`add_mark`) and a signed C2PA manifest (`C2paSigning`, needs c2pa-python).

Other outputs (video, hints) pass their own facts through the same dataclass: `Provenance.extra`
takes any further key/value pairs, and `as_dict` / `from_dict` give the flat form a video
container's metadata can hold.

    python -m colorizer.inspect result.png      # prints what a file says (colorizer/inspect.py)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from PIL import ExifTags, Image, ImageDraw, ImageFont, PngImagePlugin, UnidentifiedImageError

from colorizer import __version__
from colorizer.errors import ColorizerError, ImageError, first_line

TOOL = "colorizer"
INFO_KEY = "provenance"  # key in a result's PIL .info holding its Provenance (set by the pipeline)
# IPTC NewsCodes: "the compositing of trained algorithmic media with some other media" (here: the
# photo's own lightness with predicted colour); what IPTC and C2PA name for AI-assisted edits
DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
# Our own XMP properties. A URN, not a web address: it names the schema without claiming a domain the
# project does not own. Files written before it used LEGACY_NAMESPACE; both are read.
NAMESPACE = "urn:colorizer:xmp:1.0:"
LEGACY_NAMESPACE = "https://huggingface.co/open-colorizer/xmp/1.0/"
DESCRIPTION = "Colorized by {tool} {version}: the colours were predicted by a neural network, not recorded."
XMP_PNG_KEY = "XML:com.adobe.xmp"  # the PNG keyword XMP readers (exiftool, Adobe) look for
LEGACY_MARK = "Colorized-By"  # text written by versions before provenance; still recognised
_NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
    "colorizer": NAMESPACE,
}
for _prefix, _uri in _NS.items():  # the prefixes readers expect, rather than ns0, ns1 ...
    ET.register_namespace(_prefix, _uri)


SOURCE_KEY = "source_sha256"  # Provenance.extra: the SHA-256 of the file a result was made from, when it was one


def source_digest(source: object) -> str | None:
    """The SHA-256 (hex) of an original given as a path or as bytes; None for anything else (an image in
    memory, a file object) or a file that cannot be read. A result carries it (SOURCE_KEY), so a
    result tells which original it belongs to: the CLI tells a rerun's own results from those of
    another input with the same name."""
    if isinstance(source, bytes):
        return hashlib.sha256(source).hexdigest()
    if not isinstance(source, (str, os.PathLike)):
        return None
    try:
        with open(source, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None


@dataclass
class Provenance:
    """The facts of one colorization, as written into the output file.

    weights: "embedded default", the Hub repo id, or "local folder NAME"; weights_sha256 tells
    two versions of the same name apart. `extra` holds facts other outputs add (e.g. a video's
    frame count, the number of colour hints), written and read back as strings.
    """

    weights: str
    weights_sha256: str
    render_size: int
    strength: float
    restored: bool
    hints: bool = False
    reference: bool = False  # a colour reference lent its colour (colorizer.pipelines.reference)
    created: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    tool: str = TOOL
    version: str = __version__
    digital_source_type: str = DIGITAL_SOURCE_TYPE
    extra: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, str]:
        """Flat string key/values (XMP properties, video container tags); `extra` merged in."""
        flat = {k: _to_text(v) for k, v in asdict(self).items() if k != "extra"}
        return flat | {k: str(v) for k, v in self.extra.items() if k not in flat}

    @classmethod
    def from_dict(cls, values: dict[str, str]) -> "Provenance":
        """The inverse of `as_dict`; unknown keys go to `extra`. ValueError if a field is missing."""
        known = {f.name: f for f in fields(cls) if f.name != "extra"}
        typed = {"render_size": int, "strength": float, "restored": _to_bool, "hints": _to_bool, "reference": _to_bool}
        missing = [name for name in ("weights", "weights_sha256", "render_size", "strength", "restored")
                   if name not in values]
        if missing:
            raise ValueError(f"provenance without {', '.join(missing)}")
        args = {k: typed.get(k, str)(v) for k, v in values.items() if k in known}
        return cls(**args, extra={k: v for k, v in values.items() if k not in known})

    def to_xmp(self) -> str:
        """One XMP packet: IPTC digital source type, xmp:CreatorTool/ModifyDate, dc:description, ours."""
        meta = ET.Element(f"{{{_NS['x']}}}xmpmeta")
        rdf = ET.SubElement(meta, f"{{{_NS['rdf']}}}RDF")
        desc = ET.SubElement(rdf, f"{{{_NS['rdf']}}}Description", {f"{{{_NS['rdf']}}}about": ""})
        ET.SubElement(desc, f"{{{_NS['Iptc4xmpExt']}}}DigitalSourceType").text = self.digital_source_type
        ET.SubElement(desc, f"{{{_NS['xmp']}}}CreatorTool").text = f"{self.tool} {self.version}"
        ET.SubElement(desc, f"{{{_NS['xmp']}}}ModifyDate").text = self.created
        alt = ET.SubElement(ET.SubElement(desc, f"{{{_NS['dc']}}}description"), f"{{{_NS['rdf']}}}Alt")
        item = ET.SubElement(alt, f"{{{_NS['rdf']}}}li", {"{http://www.w3.org/XML/1998/namespace}lang": "x-default"})
        item.text = DESCRIPTION.format(tool=self.tool, version=self.version)
        for key, value in self.as_dict().items():
            if key.isidentifier():  # a valid XML name; `extra` keys are the caller's
                ET.SubElement(desc, f"{{{NAMESPACE}}}{key}").text = value
        body = ET.tostring(meta, encoding="unicode")
        return f'<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>{body}<?xpacket end="w"?>'

    @classmethod
    def from_xmp(cls, xmp: str | bytes) -> "Provenance | None":
        """Our facts from an XMP packet, as elements or attributes (tools rewrite one as the other);
        None when the packet holds none of ours or cannot be parsed."""
        try:
            root = ET.fromstring(xmp.strip(b"\x00") if isinstance(xmp, bytes) else xmp.strip("\x00"))
        except ET.ParseError:
            return None
        values: dict[str, str] = {}
        for prefix in (f"{{{LEGACY_NAMESPACE}}}", f"{{{NAMESPACE}}}"):  # the current one wins
            for desc in root.iter(f"{{{_NS['rdf']}}}Description"):
                values |= {k[len(prefix):]: v for k, v in desc.attrib.items() if k.startswith(prefix)}
                values |= {c.tag[len(prefix):]: (c.text or "") for c in desc if c.tag.startswith(prefix)}
        try:
            return cls.from_dict(values) if values else None
        except ValueError:
            return None


def _to_text(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _to_bool(text: str) -> bool:
    return text.strip().lower() in ("yes", "true", "1")


def _result_exif(original: bytes | None, facts: Provenance) -> Image.Exif:
    """The original's kept EXIF, with Software and DateTime (the file's change date) set by us."""
    exif = Image.Exif()
    if original:
        exif.load(original)
    exif[ExifTags.Base.Software] = f"{facts.tool} {facts.version}"
    exif[ExifTags.Base.DateTime] = dt.datetime.fromisoformat(facts.created).astimezone().strftime("%Y:%m:%d %H:%M:%S")
    exif[ExifTags.Base.Orientation] = 1
    return exif


def metadata_params(image: Image.Image, fmt: str, facts: Provenance | None = None) -> dict:
    """Pillow save() arguments that write the provenance (and the original's EXIF) in `fmt`.

    facts default to those the pipeline attached (`image.info["provenance"]`); an image with
    none gets none (there is nothing true to say about it)."""
    facts = facts or image.info.get(INFO_KEY)
    if facts is None:
        return {}
    exif = _result_exif(image.info.get("exif"), facts)
    xmp = facts.to_xmp()
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_itxt(XMP_PNG_KEY, xmp)
        info.add_text("Software", f"{facts.tool} {facts.version}")
        return {"pnginfo": info, "exif": exif}
    if fmt in ("JPEG", "WEBP"):
        return {"xmp": xmp.encode(), "exif": exif}
    raise ImageError(f"cannot write provenance into {fmt}: save as PNG, JPEG or WebP")


def read(source: str | os.PathLike | Image.Image) -> Provenance | None:
    """The Provenance a file (an image, or a film: its container tags) or an opened image carries, or None."""
    def from_image(image: Image.Image) -> Provenance | None:
        xmp = image.info.get("xmp") or image.info.get(XMP_PNG_KEY)
        return Provenance.from_xmp(xmp) if xmp else None

    if isinstance(source, Image.Image):
        return from_image(source)
    try:
        with Image.open(source) as image:
            return from_image(image)
    except UnidentifiedImageError:  # not an image: perhaps one of our films
        return _film_provenance(source)


def _film_provenance(path: str | os.PathLike) -> Provenance | None:
    """The Provenance in a film's container tags, or None (not a film, or not ours)."""
    from colorizer.io.video import provenance_tags

    tags = provenance_tags(path)
    try:
        return Provenance.from_dict(tags) if tags else None
    except ValueError:
        return None


def is_colorized(path: str | os.PathLike) -> bool:
    """Whether `path` is a result of this tool: it carries our provenance (an image's XMP, a film's
    tags), or the mark earlier versions wrote (a PNG text `Colorized-By` or a JPEG comment holding
    it). False if unreadable."""
    try:
        with Image.open(path) as image:
            if read(image) is not None:
                return True
            legacy = image.info.get(LEGACY_MARK) or image.info.get("comment", b"")
    except Exception:  # noqa: BLE001 - not an image: one of our films, or unreadable (reported when colorized)
        return _film_provenance(path) is not None  # never raises: an unreadable file is no film of ours
    return TOOL in (legacy.decode("latin-1") if isinstance(legacy, bytes) else str(legacy))


MARK_TEXT = "AI colorized"


def add_mark(image: Image.Image) -> Image.Image:
    """A copy with a small visible mark in the bottom-right corner, as DeOldify's outputs had:
    white text on a half-transparent dark box, its height about 1/30 of the short side."""
    marked = image.convert("RGBA")
    short = min(marked.size)
    font = ImageFont.load_default(size=max(8, short // 30))
    left, top, right, bottom = font.getbbox(MARK_TEXT)
    pad = max(2, (bottom - top) // 3)
    w, h = right - left + 2 * pad, bottom - top + 2 * pad
    x, y = max(0, marked.width - w - pad), max(0, marked.height - h - pad)
    overlay = Image.new("RGBA", marked.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rectangle((x, y, x + w, y + h), fill=(0, 0, 0, 128))
    draw.text((x + pad - left, y + pad - top), MARK_TEXT, font=font, fill=(255, 255, 255, 230))
    alpha = marked.getchannel("A")
    marked = Image.alpha_composite(marked, overlay)
    marked.putalpha(alpha)  # the photo's own transparency (an opaque photo stays opaque)
    out = marked if image.mode == "RGBA" else marked.convert(image.mode)
    out.info = dict(image.info)
    return out


@dataclass
class C2paSigning:
    """A signing certificate chain (PEM: the signer's certificate first, then its CA certificates)
    and its private key (PEM), for a C2PA manifest. See README "Provenance" for what C2PA accepts."""

    cert: Path
    key: Path
    timestamp_url: str | None = None  # an RFC 3161 time-stamp authority; none works offline

    def check(self) -> None:
        """Sign a tiny image now, so a refused certificate is reported before any photo is worked
        on (c2pa-python only checks the certificate when it signs); ColorizerError if refused."""
        buffer = io.BytesIO()
        Image.new("RGB", (16, 16)).save(buffer, format="PNG")
        c2pa_sign(buffer.getvalue(), "PNG", Provenance("check", "", 0, 0.0, False), self, "check.png")

    def signer(self):
        """A c2pa.Signer; ColorizerError with what to do when anything is missing or refused."""
        try:
            import c2pa
        except ImportError:
            raise ColorizerError("C2PA signing needs c2pa-python: pip install -r requirements-c2pa.txt") from None
        try:
            cert, key = self.cert.read_bytes(), self.key.read_bytes()
        except OSError as err:
            raise ColorizerError(f"C2PA: cannot read {err.filename}: {err.strerror}") from None
        info = c2pa.C2paSignerInfo(alg=_signing_alg(key, self.key).encode(), sign_cert=cert, private_key=key,
                                   ta_url=self.timestamp_url.encode() if self.timestamp_url else None)
        try:
            return c2pa.Signer.from_info(info)
        except c2pa.C2paError as err:
            raise ColorizerError(f"C2PA refused the certificate {self.cert} or key {self.key}: "
                                 f"{first_line(err)}") from None


def _signing_alg(key_pem: bytes, name: Path) -> str:
    """C2PA's name for the key's algorithm: es256/es384/es512 (EC), ps256 (RSA), ed25519."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as err:
        raise ColorizerError(f"C2PA: {name} is not an unencrypted PEM private key ({first_line(err)})") from None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        curves = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name in curves:
            return curves[key.curve.name]
    elif isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise ColorizerError(f"C2PA: {name}: unsupported key type; use EC P-256/384/521, RSA (PSS) or Ed25519")


def c2pa_sign(data: bytes, fmt: str, facts: Provenance, signing: C2paSigning, title: str) -> bytes:
    """`data` (an encoded image) with a signed C2PA manifest: one action that says the picture
    was made by compositing trained algorithmic media, and the run's facts as its parameters."""
    import c2pa

    manifest = {
        "claim_generator_info": [{"name": facts.tool, "version": facts.version}],
        "title": title,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [{
            "action": "c2pa.created",
            "digitalSourceType": facts.digital_source_type,
            "softwareAgent": {"name": facts.tool, "version": facts.version},
            "description": DESCRIPTION.format(tool=facts.tool, version=facts.version),
            "parameters": facts.as_dict(),
        }]}}],
    }
    signer = signing.signer()
    out = io.BytesIO()
    try:
        with c2pa.Builder.from_json(json.dumps(manifest)) as builder:
            builder.sign(signer, Image.MIME[fmt], io.BytesIO(data), out)
    except c2pa.C2paError as err:
        raise ColorizerError(f"C2PA refused to sign with {signing.cert} and {signing.key}: {first_line(err)} "
                             "(README, Provenance: what a signing certificate needs)") from None
    finally:
        signer.close()
    return out.getvalue()


def c2pa_summary(path: str | os.PathLike) -> str | None:
    """One line about the file's C2PA manifest (signer, validation), None when it has none; needs
    c2pa-python, and says so when it is missing and the file seems to hold a manifest."""
    try:
        import c2pa
    except ImportError:
        return "present? (install c2pa-python to read C2PA manifests)" if b"c2pa" in Path(path).read_bytes() else None
    try:
        with c2pa.Reader(str(path)) as reader:
            store = json.loads(reader.json())
    except c2pa.C2paError:
        return None
    active = store.get("manifests", {}).get(store.get("active_manifest"), {})
    signature = active.get("signature_info", {})
    problems = [s.get("code", "?") for s in store.get("validation_status", [])]
    signer = f"signed by {signature.get('common_name', '?')} ({signature.get('issuer', '?')})"
    return signer + (f"; validation: {', '.join(problems)}" if problems else "; valid")


def save(image: Image.Image, path: str | os.PathLike, facts: Provenance | None = None, *, mark: bool = False,
         c2pa: C2paSigning | None = None, **params) -> Path:
    """Write a result with its provenance (and the original's EXIF), atomically, with the usual
    file mode under the umask. The Python API's way to save what `Colorizer.colorize` returned.

    facts: default the ones the pipeline attached. mark: add the visible mark. c2pa: also embed
    a signed C2PA manifest. params: Pillow encoder settings (e.g. quality=95)."""
    from colorizer.io.files import encodable, image_format, save_image, write_atomically  # torch: not at import

    path = Path(path)
    fmt = image_format(path)
    facts = facts or image.info.get(INFO_KEY)
    if mark:
        image = add_mark(image)
    params = metadata_params(image, fmt, facts) | params
    if c2pa is None:
        return save_image(image, path, **params)
    if facts is None:
        raise ColorizerError(f"{path}: no provenance to sign (not an image this package colorized)")
    buffer = io.BytesIO()
    encodable(image, fmt).save(buffer, format=fmt, **params)
    signed = c2pa_sign(buffer.getvalue(), fmt, facts, c2pa, path.name)
    return write_atomically(path, lambda fh: fh.write(signed))
