"""Every colorized output says what it is: the real CLI and Python API, the embedded weights, real
files read back with Pillow, c2pa-python and `python -m colorizer.inspect`."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image

from colorizer import save
from colorizer.errors import ImageError
from colorizer.io import provenance
from colorizer.models.hub import EMBEDDED_WEIGHTS, ONNX_FILE
from colorizer.pipelines.colorizer import Colorizer
from tests.conftest import REPO, png_claiming

TAKEN, MAKE, MODEL = "1936:07:14 15:30:00", "Leica", "Leica II"
# what a default run on a CPU runs: the embedded default's model.onnx, with ONNX Runtime (colorizer.models.engines)
EMBEDDED_SHA256 = hashlib.sha256((EMBEDDED_WEIGHTS / ONNX_FILE).read_bytes()).hexdigest()


def run(*args: str, umask: int = 0o022) -> subprocess.CompletedProcess:
    """A real process under a real umask, as a user's shell starts it."""
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=300,
                          preexec_fn=lambda: os.umask(umask))


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Path:
    """A real black-and-white photo as a camera stores it: a JPEG lying on its side (96x64 stored,
    EXIF Orientation 6 = turn 90 degrees clockwise to view), with date taken and camera."""
    upright = Image.open(REPO / "examples" / "camera.jpg").convert("L").resize((64, 96))
    image = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make], exif[ExifTags.Base.Model] = MAKE, MODEL
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = TAKEN
    path = tmp_path_factory.mktemp("photos") / "grandpa.jpg"
    image.save(path, quality=95, exif=exif.tobytes())
    return path


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer.from_pretrained()


def make_signing_chain(folder: Path, self_signed: bool = False) -> tuple[Path, Path]:
    """A throwaway CA and signer certificate, as C2PA wants them (EC P-256, digitalSignature,
    emailProtection, authority key id); with self_signed, one CA certificate signing itself."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Colorizer tests")])

    def certificate(subject: str, key, issuer: str, issuer_key, ca: bool) -> x509.Certificate:
        usage = dict.fromkeys(("content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
                               "encipher_only", "decipher_only"), False)
        builder = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=7))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=not ca, key_cert_sign=ca, crl_sign=ca, **usage),
                                  critical=True)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                                  critical=False))
        if not ca:
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                                            critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    key = ec.generate_private_key(ec.SECP256R1())
    if self_signed:  # what `openssl req -x509` makes: a CA certificate that signed itself
        chain = [certificate("Test signer", key, "Test signer", key, ca=True)]
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        chain = [certificate("Test signer", key, "Test CA", ca_key, ca=False),
                 certificate("Test CA", ca_key, "Test CA", ca_key, ca=True)]
    cert, key_file = folder / "chain.pem", folder / "key.pem"
    cert.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert, key_file


def assert_says_what_it_is(path: Path, render_size: int, strength: float, restored: bool = False) -> None:
    """The file's provenance, kept EXIF and size, as any reader finds them."""
    facts = provenance.read(path)
    assert facts is not None, f"{path} carries no provenance"
    assert facts.digital_source_type == provenance.DIGITAL_SOURCE_TYPE
    assert (facts.tool, facts.weights, facts.weights_sha256) == ("colorizer", "embedded default", EMBEDDED_SHA256)
    assert facts.extra["engine"].startswith("ONNX Runtime ")
    assert (facts.render_size, facts.strength, facts.restored, facts.hints) == (render_size, strength, restored, False)
    made = dt.datetime.fromisoformat(facts.created)
    assert abs(dt.datetime.now(dt.timezone.utc) - made) < dt.timedelta(minutes=10)
    with Image.open(path) as image:
        assert image.size == (64, 96)  # upright, as the EXIF said
        exif = image.getexif()
        raw_xmp = image.info.get("xmp") or image.info.get(provenance.XMP_PNG_KEY)
    assert b"compositeWithTrainedAlgorithmicMedia" in (raw_xmp if isinstance(raw_xmp, bytes) else raw_xmp.encode())
    assert exif[ExifTags.Base.Orientation] == 1  # the pixels are already upright
    assert (exif[ExifTags.Base.Make], exif[ExifTags.Base.Model]) == (MAKE, MODEL)
    assert exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] == TAKEN
    assert exif[ExifTags.Base.Software].startswith("colorizer ")


def test_cli_png_says_what_it_is_keeps_exif_is_marked_and_0644(tmp_path, original, colorizer):
    out = tmp_path / "out"
    result = run("-m", "colorizer", str(original), "-o", str(out), "--render-size", "64", "--strength", "1.25",
                 "--mark", umask=0o022)
    assert result.returncode == 0, result.stderr
    path = out / "grandpa.png"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not a temporary file's 0600
    assert_says_what_it_is(path, 64, 1.25)

    # the mark: the same result without it differs only in the bottom-right corner, and there a lot
    marked = np.asarray(Image.open(path).convert("RGB"), dtype=float)
    plain = np.asarray(colorizer.colorize(original, 64, 1.25).convert("RGB"), dtype=float)
    diff = np.abs(marked - plain).mean(axis=2)
    assert diff[:48].mean() < 1.0  # top half: the same photo
    assert diff[-16:, 8:].mean() > 20 and diff[-16:, 8:].max() > 100  # the mark, plainly visible

    shown = run("-m", "colorizer.inspect", str(path), str(original))
    assert shown.returncode == 1  # the original carries none
    lines = shown.stdout.splitlines()
    assert lines[0] == f"{path}: colorized by colorizer {provenance.__version__}: AI-assisted, " \
                       "the colours were predicted by a neural network"
    text = shown.stdout
    for expected in (provenance.DIGITAL_SOURCE_TYPE, "embedded default", EMBEDDED_SHA256, "render size          64",
                     "strength             1.25", "restored             no", TAKEN, f"{MAKE} {MODEL}"):
        assert expected in text
    assert lines[-1] == f"{original}: no colorizer provenance"


def test_cli_jpeg_with_c2pa_manifest_under_umask_027(tmp_path, original):
    c2pa = pytest.importorskip("c2pa")
    cert, key = make_signing_chain(tmp_path)
    out = tmp_path / "out"
    result = run("-m", "colorizer", str(original), "-o", str(out), "--format", "jpg", "--render-size", "96",
                 "--c2pa-cert", str(cert), "--c2pa-key", str(key), umask=0o027)
    assert result.returncode == 0, result.stderr
    path = out / "grandpa.jpg"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert_says_what_it_is(path, 96, 1.0)  # the XMP and EXIF survive the manifest's embedding

    with c2pa.Reader(str(path)) as reader:
        store = json.loads(reader.json())
    manifest = store["manifests"][store["active_manifest"]]
    action = next(a for assertion in manifest["assertions"] if assertion["label"].startswith("c2pa.actions")
                  for a in assertion["data"]["actions"])
    assert action["digitalSourceType"] == provenance.DIGITAL_SOURCE_TYPE
    assert action["parameters"]["weights_sha256"] == EMBEDDED_SHA256
    assert manifest["signature_info"]["common_name"] == "Test signer"
    codes = [status["code"] for status in store.get("validation_status", [])]
    assert codes == ["signingCredential.untrusted"]  # intact and valid; only our test CA is unknown

    shown = run("-m", "colorizer.inspect", str(path))
    assert shown.returncode == 0
    assert "C2PA manifest" in shown.stdout and "signed by Test signer (Colorizer tests)" in shown.stdout
    as_json = json.loads(run("-m", "colorizer.inspect", "--json", str(path)).stdout)["provenance"]
    assert (as_json["weights_sha256"], as_json["render_size"]) == (EMBEDDED_SHA256, "96")
    assert as_json["original_taken"] == TAKEN
    assert as_json["c2pa_manifest"].startswith("signed by Test signer")


def test_c2pa_refusals_are_one_clear_line_before_any_work(tmp_path, original):
    pytest.importorskip("c2pa")
    cert, key = make_signing_chain(tmp_path, self_signed=True)
    out = tmp_path / "out"
    refused = run("-m", "colorizer", str(original), "-o", str(out), "--c2pa-cert", str(cert), "--c2pa-key", str(key))
    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0 and "Traceback" not in refused.stderr
    assert "C2PA refused to sign" in refused.stderr and "self-signed" in refused.stderr
    alone = run("-m", "colorizer", str(original), "-o", str(out), "--c2pa-cert", str(cert))
    assert alone.returncode == 2 and "--c2pa-cert and --c2pa-key go together" in alone.stderr
    assert not out.exists()  # refused before anything was written


def test_python_api_saves_png_and_jpeg_with_provenance(tmp_path, original, colorizer):
    result = colorizer.colorize(original, render_size=96, strength=0.5, restore=True)
    for name in ("photo.png", "photo.jpg"):
        path = save(result, tmp_path / name)
        assert_says_what_it_is(path, 96, 0.5, restored=True)
    result.save(tmp_path / "plain.png")  # Pillow's own save writes none of it: that is what `save` is for
    assert provenance.read(tmp_path / "plain.png") is None
    with pytest.raises(ImageError, match="cannot write provenance into BMP"):
        save(result, tmp_path / "photo.bmp")
    many = list(colorizer.colorize_many([original, original], render_size=64, batch_size=2))
    assert [provenance.read(save(r, tmp_path / f"{i}.png")).render_size for i, r in enumerate(many)] == [64, 64]


def test_facts_of_other_outputs_round_trip_and_tools_rewriting_xmp_are_read():
    facts = provenance.Provenance("user/artistic", "ab" * 32, 768, 1.5, restored=False, hints=True,
                                  extra={"frames": "240", "container": "mp4"})
    flat = facts.as_dict()  # what a video container's metadata holds
    assert flat["hints"] == "yes" and flat["frames"] == "240"
    assert provenance.Provenance.from_dict(flat) == facts
    assert provenance.Provenance.from_xmp(facts.to_xmp()) == facts
    # exiftool and others may write simple properties as attributes of rdf:Description
    prefix = f'xmlns:colorizer="{provenance.NAMESPACE}"'
    attributes = " ".join(f'colorizer:{k}="{v}"' for k, v in flat.items())
    rewritten = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
                 f'<rdf:Description rdf:about="" {prefix} {attributes}/></rdf:RDF></x:xmpmeta>')
    assert provenance.Provenance.from_xmp(rewritten) == facts
    assert provenance.Provenance.from_xmp("<not xml") is None


def test_results_of_earlier_versions_are_still_recognised(tmp_path):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Colorized-By", "colorizer")
    Image.new("RGB", (8, 8)).save(tmp_path / "old.png", pnginfo=info)
    Image.new("RGB", (8, 8)).save(tmp_path / "old.jpg", comment=b"Colorized-By: colorizer")
    Image.new("RGB", (8, 8)).save(tmp_path / "photo.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    assert [provenance.is_colorized(tmp_path / n) for n in ("old.png", "old.jpg", "photo.png", "broken.png")] == \
        [True, True, False, False]


def test_inspect_reports_a_decompression_bomb_and_goes_on_to_the_next_file(tmp_path):
    bomb = png_claiming(tmp_path / "bomb.png", 100_000, 100_000)
    shown = run("-m", "colorizer.inspect", str(bomb), str(REPO / "examples" / "camera.jpg"))
    assert shown.returncode == 2 and "Traceback" not in shown.stderr
    assert f"{bomb}: cannot read:" in shown.stderr and "camera.jpg: no colorizer provenance" in shown.stdout

