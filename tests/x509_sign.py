"""A minimal gpgsm-like signing program for git's ``gpg.format = x509`` (what
smimesign does), used as ``gpg.x509.program`` in the S/MIME tests.

git (gpg-interface.c ``sign_buffer_gpg``) runs ``PROGRAM --status-fd=2 -bsau KEY``
with the payload on stdin, reads the armored detached signature from stdout and
requires ``\\n[GNUPG:] SIG_CREATED `` on the status fd. Here ``KEY`` (git's
``user.signingKey``) is a directory holding ``cert.pem`` and ``key.pem`` and,
optionally, ``chain.pem`` (intermediates to embed). The signature itself is made by
the real ``openssl cms -sign`` (detached, binary, SHA-256, signed attributes
content-type / signing-time / message-digest / S/MIME capabilities, the signer's
certificate embedded), wrapped in the ``-----BEGIN SIGNED MESSAGE-----`` armor.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path


def _armor(der: bytes) -> bytes:
    b64 = base64.b64encode(der)
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return (
        b"-----BEGIN SIGNED MESSAGE-----\n"
        + b"\n".join(lines)
        + b"\n-----END SIGNED MESSAGE-----\n"
    )


def sign(payload: bytes, keydir: Path) -> bytes:
    """The armored detached CMS signature of ``payload`` by the key in ``keydir``."""
    argv = [
        "openssl", "cms", "-sign", "-binary", "-md", "sha256", "-outform", "DER",
        "-signer", str(keydir / "cert.pem"), "-inkey", str(keydir / "key.pem"),
    ]  # fmt: skip
    if (keydir / "chain.pem").exists():
        argv += ["-certfile", str(keydir / "chain.pem")]
    proc = subprocess.run(argv, input=payload, capture_output=True, timeout=60, check=False)
    if proc.returncode:
        raise RuntimeError(f"openssl cms -sign failed: {proc.stderr.decode(errors='replace')}")
    return _armor(proc.stdout)


def main(argv: Sequence[str]) -> int:
    args = list(argv)
    status_fd = 2
    for a in args:
        if a.startswith("--status-fd="):
            status_fd = int(a.split("=", 1)[1])
    if "-bsau" not in args or args.index("-bsau") + 1 >= len(args):
        sys.stderr.write(f"x509_sign: only signing (-bsau KEY) is supported, not {args}\n")
        return 2
    keydir = Path(args[args.index("-bsau") + 1])
    try:
        signature = sign(sys.stdin.buffer.read(), keydir)
    except RuntimeError as e:
        sys.stderr.write(f"x509_sign: {e}\n")
        return 1
    sys.stdout.buffer.write(signature)
    sys.stdout.buffer.flush()
    os.write(
        status_fd,
        b"[GNUPG:] BEGIN_SIGNING H8\n"
        b"[GNUPG:] SIG_CREATED D 19 8 00 %d %s\n" % (int(time.time()), keydir.name.encode()),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
