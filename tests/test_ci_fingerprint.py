"""docs/ci.md, step 3: the openssl pipeline gives the SHA-1 fingerprint of the last certificate.

The pipeline is read from docs/ci.md itself; `openssl s_client` (the
network) is replaced by a chain of two generated certificates printed the
way `s_client -showcerts` prints them, and the expected fingerprint is
computed independently (DER bytes, hashlib).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import ssl
import subprocess

import pytest

from imgpipe import REPO_ROOT

if shutil.which("openssl") is None:
    pytest.skip("openssl not installed", allow_module_level=True)


def _pipeline() -> str:
    text = (REPO_ROOT / "docs" / "ci.md").read_text()
    block = re.search(r"```sh\nhost=token\.actions\.githubusercontent\.com\n(.*?)```", text, re.S)
    assert block, "docs/ci.md step 3 lost its openssl block"
    lines = block.group(1).replace("\\\n", " ").split("|", 1)
    assert "openssl s_client" in lines[0]
    return lines[1]  # everything after s_client


def _certificate(tmp_path, name: str) -> str:
    key, pem = tmp_path / f"{name}.key", tmp_path / f"{name}.pem"
    command = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    command += ["-nodes", "-keyout", str(key), "-out", str(pem), "-subj", f"/CN={name}"]
    subprocess.run([*command, "-days", "1"], check=True, capture_output=True)
    return pem.read_text()


def test_the_documented_pipeline_prints_the_last_certificates_sha1(tmp_path):
    leaf, ca = _certificate(tmp_path, "leaf"), _certificate(tmp_path, "ca")
    showcerts = (
        "CONNECTED(00000003)\n---\nCertificate chain\n 0 s:CN = leaf\n"
        + leaf
        + " 1 s:CN = ca\n"
        + ca
        + "---\nServer certificate\nsubject=CN = leaf\n"
    )
    done = subprocess.run(
        ["bash", "-c", _pipeline()], input=showcerts, capture_output=True, text=True, check=True
    )
    expected = hashlib.sha1(ssl.PEM_cert_to_DER_cert(ca)).hexdigest()
    assert done.stdout.strip() == expected
    assert expected != hashlib.sha1(ssl.PEM_cert_to_DER_cert(leaf)).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{40}", done.stdout.strip())  # what oidc_fingerprints accepts
