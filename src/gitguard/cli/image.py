"""``guard image …`` and ``guard release …``: argparse definitions and handlers.

Kept light (argparse only at import time): the image code is imported inside the
handlers, so ``guard --help`` and the hook paths do not pay for it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from gitguard.errors import UsageError

__all__ = ["register"]

_IMAGE_HELP = (
    "an image in a registry (registry.example.com/app:v1, …@sha256:…) or in an OCI "
    "image layout directory (oci:PATH[:TAG], oci:PATH@sha256:…)"
)


def _annotation(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, not {text!r}")
    return key, value


def _registry_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--allow-insecure-registry",
        action="store_true",
        help="talk plain HTTP to a registry on this machine (127.0.0.1, [::1], localhost only)",
    )
    p.add_argument(
        "--registry-cacert",
        metavar="FILE",
        help="also trust the CA certificates in FILE for the registry's TLS certificate",
    )


def _annotation_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument(
        "-a",
        "--annotation",
        dest="annotations",
        action="append",
        type=_annotation,
        default=[],
        metavar="KEY=VALUE",
        help=help_text,
    )


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``image`` and ``release`` command groups."""
    image = sub.add_parser(
        "image",
        help="cosign-compatible container image signatures",
        description=(
            "Sign and verify container images with cosign-compatible key-based "
            "signatures (stored as sha256-<digest>.sig next to the image), in a "
            "registry or an OCI image layout directory."
        ),
    )
    isub = image.add_subparsers(dest="image_command", metavar="SUBCOMMAND", required=True)

    g = isub.add_parser(
        "generate-key-pair",
        help="create an ECDSA P-256 key pair in cosign's format",
        description=(
            "Write PREFIX.key (encrypted with a password; mode 0600) and PREFIX.pub. The "
            "password comes from COSIGN_PASSWORD, else a prompt on the terminal. Both "
            "files load in cosign and skopeo."
        ),
    )
    g.add_argument("--output-key-prefix", default="cosign", metavar="PREFIX")
    g.set_defaults(func=cmd_generate_key_pair)

    s = isub.add_parser(
        "sign",
        help="sign an image (by digest) with a cosign key",
        description=(
            "Resolve IMAGE to its digest once, sign that digest and append the signature "
            "to the image's sha256-<digest>.sig manifest (an identical signature is not "
            "added twice). The key's password comes from COSIGN_PASSWORD or a prompt."
        ),
    )
    s.add_argument("image", metavar="IMAGE", help=_IMAGE_HELP)
    s.add_argument("--key", required=True, type=Path, metavar="KEY", help="cosign private key")
    _annotation_option(s, "add an annotation to the signed payload (repeatable)")
    s.add_argument(
        "--identity",
        metavar="REF",
        help=(
            "the docker-reference to sign (default: IMAGE as written, with its tag; "
            "required for oci: targets)"
        ),
    )
    s.add_argument(
        "--recursive",
        action="store_true",
        help="for a multi-platform index, also sign every manifest it lists",
    )
    _registry_options(s)
    s.set_defaults(func=cmd_sign)

    v = isub.add_parser(
        "verify",
        help="verify an image's signatures with a public key",
        description=(
            "Verify the signatures of IMAGE strictly (as containers/image does): the "
            "signature with the key, the payload's type and digest, the identity rule "
            "and the required annotations. Prints the verified payloads as JSON; exit 1 "
            "when none verifies."
        ),
    )
    v.add_argument("image", metavar="IMAGE", help=_IMAGE_HELP)
    v.add_argument("--key", required=True, type=Path, metavar="PUB", help="public key (PEM)")
    _annotation_option(v, "require this annotation in the payload (repeatable)")
    v.add_argument(
        "--identity",
        metavar="REF",
        help="the reference the image is meant as (default: IMAGE; needed for oci: targets)",
    )
    v.add_argument(
        "--identity-rule",
        default="matchRepoDigestOrExact",
        metavar="RULE",
        help=(
            "matchRepoDigestOrExact (default) | matchRepository | matchExact | "
            "exactReference:REF | exactRepository:REPO (containers/image names)"
        ),
    )
    _registry_options(v)
    v.set_defaults(func=cmd_verify)

    p = isub.add_parser(
        "policy",
        help="print a Kyverno or Sigstore policy-controller admission policy",
        description=(
            "Print a ready admission policy that admits only images matching "
            "IMAGE-PATTERN signed by the key PUB (offline key signatures: no "
            "transparency log, no certificate)."
        ),
    )
    kind = p.add_mutually_exclusive_group(required=True)
    kind.add_argument("--kyverno", action="store_const", const="kyverno", dest="kind")
    kind.add_argument(
        "--policy-controller", action="store_const", const="policy-controller", dest="kind"
    )
    p.add_argument("pattern", metavar="IMAGE-PATTERN", help="e.g. registry.example.com/app*")
    p.add_argument("--key", required=True, type=Path, metavar="PUB", help="public key (PEM)")
    p.add_argument("--name", default="gitguard-signed-images", help="policy name")
    p.add_argument(
        "-a",
        "--annotation",
        dest="annotations",
        action="append",
        type=_annotation,
        default=[],
        metavar="KEY=VALUE",
        help="require this signature annotation (Kyverno only)",
    )
    p.set_defaults(func=cmd_policy)

    release = sub.add_parser(
        "release",
        help="the release image-signing queue of a repository",
        description=(
            "Jobs created when a signed release tag is pushed (policy [release]): one "
            "per tag and image, kept in the repository's git directory."
        ),
    )
    rsub = release.add_subparsers(dest="release_command", metavar="SUBCOMMAND", required=True)
    st = rsub.add_parser("status", help="list the signing jobs")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    st.set_defaults(func=cmd_release_status)
    rt = rsub.add_parser(
        "retry",
        help="run pending and failed signing jobs now",
        description=(
            "Run the given jobs (default: every pending or failed job). With --due, "
            "only pending jobs whose backoff has elapsed (for cron or a timer). Exit 1 "
            "when a job did not end signed."
        ),
    )
    rt.add_argument("ids", nargs="*", type=int, metavar="JOB", help="job ids")
    rt.add_argument("--due", action="store_true", help="only jobs whose backoff has elapsed")
    rt.set_defaults(func=cmd_release_retry)


# -- handlers ------------------------------------------------------------------------------


def cmd_generate_key_pair(args: argparse.Namespace) -> int:
    from gitguard.images.keys import password_from_env_or_terminal, write_key_pair

    password = password_from_env_or_terminal(confirm=True)
    private, public = write_key_pair(args.output_key_prefix, password)
    sys.stderr.write(f"Private key written to {private}\nPublic key written to {public}\n")
    return 0


def _default_identity(target: object, explicit: str | None) -> str | None:
    from gitguard.images.reference import ImageRef, parse_reference

    if explicit is not None:
        parse_reference(explicit)  # must be a valid docker reference
        return explicit
    if isinstance(target, ImageRef):
        if target.tag and not target.digest:
            return f"{target.name}:{target.tag}"
        return target.name
    return None


def cmd_sign(args: argparse.Namespace) -> int:
    from gitguard.images.keys import password_from_env_or_terminal, read_private_key
    from gitguard.images.reference import parse_target
    from gitguard.images.sign import sign_image
    from gitguard.images.store import open_store

    target = parse_target(args.image)
    identity = _default_identity(target, args.identity)
    if identity is None:
        raise UsageError(
            f"{args.image}: an OCI layout has no registry name; pass --identity "
            "REGISTRY/REPO[:TAG] (the reference the image will be pulled by)"
        )
    store, reference = open_store(
        target,
        insecure=args.allow_insecure_registry,
        ca_file=args.registry_cacert,
        push=True,
    )
    key = read_private_key(args.key, password_from_env_or_terminal(confirm=False))
    results = sign_image(
        store,
        reference,
        identity=identity,
        key=key,
        annotations=dict(args.annotations),
        recursive=args.recursive,
    )
    for r in results:
        verb = "Signed" if r.added else "Already signed (identical signature present):"
        sys.stdout.write(
            f"{verb} {store.where}@{r.digest} as {r.identity} -> {store.where}:{r.signature_tag} "
            f"({r.layers} signature{'s' if r.layers != 1 else ''})\n"
        )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from gitguard.images.keys import read_public_key
    from gitguard.images.reference import ImageRef, parse_reference, parse_target
    from gitguard.images.store import open_store
    from gitguard.images.verify import parse_identity_rule, verify_image

    target = parse_target(args.image)
    rule = parse_identity_rule(args.identity_rule)
    intended: ImageRef | None = None
    if args.identity is not None:
        intended = parse_reference(args.identity)
    elif isinstance(target, ImageRef):
        intended = target
    key = read_public_key(args.key)
    store, reference = open_store(
        target, insecure=args.allow_insecure_registry, ca_file=args.registry_cacert
    )
    result = verify_image(
        store,
        reference,
        key=key,
        rule=rule,
        intended=intended,
        annotations=dict(args.annotations),
    )
    err = sys.stderr
    if not result.found:
        err.write(
            f"guard: no signatures found for {store.where}@{result.digest} "
            f"(no {store.where}:{result.signature_tag})\n"
        )
        return 1
    for rejection in result.rejected:
        where = f"signature {rejection.index}" if rejection.index else "signatures"
        err.write(f"guard: {where} refused: {rejection.reason}\n")
    if not result.ok:
        err.write(f"guard: no valid signature for {store.where}@{result.digest}\n")
        return 1
    err.write(
        f"Verified {len(result.verified)} signature{'s' if len(result.verified) != 1 else ''} "
        f"of {store.where}@{result.digest} with {key.source} (identity rule {rule})\n"
    )
    json.dump(result.to_json(), sys.stdout)
    sys.stdout.write("\n")
    return 0


def _yaml_str(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid YAML double-quoted scalar


def _yaml_block(text: str, indent: int) -> str:
    pad = " " * indent
    return "|-\n" + "\n".join(pad + line for line in text.strip().splitlines())


def kyverno_policy(name: str, pattern: str, public_pem: str, annotations: dict[str, str]) -> str:
    """A Kyverno ClusterPolicy (verifyImages, type Cosign) for offline key signatures."""
    lines = [
        "apiVersion: kyverno.io/v1",
        "kind: ClusterPolicy",
        "metadata:",
        f"  name: {_yaml_str(name)}",
        "  annotations:",
        '    policies.kyverno.io/description: "Images must carry a cosign signature by the '
        'gitguard release key (offline key: no Rekor, no CT log)."',
        "spec:",
        "  validationFailureAction: Enforce",
        "  background: false",
        "  webhookTimeoutSeconds: 30",
        "  failurePolicy: Fail",
        "  rules:",
        "    - name: verify-image-signature",
        "      match:",
        "        any:",
        "          - resources:",
        "              kinds:",
        "                - Pod",
        "      verifyImages:",
        "        - imageReferences:",
        f"            - {_yaml_str(pattern)}",
        "          mutateDigest: true",
        "          verifyDigest: true",
        "          required: true",
        "          attestors:",
        "            - count: 1",
        "              entries:",
        "                - keys:",
        "                    publicKeys: " + _yaml_block(public_pem, 22),
        "                    signatureAlgorithm: sha256",
        "                    rekor:",
        "                      ignoreTlog: true",
        "                    ctlog:",
        "                      ignoreSCT: true",
    ]
    if annotations:
        lines.append("                  annotations:")
        lines += [
            f"                    {_yaml_str(k)}: {_yaml_str(v)}"
            for k, v in sorted(annotations.items())
        ]
    return "\n".join(lines) + "\n"


def policy_controller_policy(name: str, pattern: str, public_pem: str) -> str:
    """A Sigstore policy-controller ClusterImagePolicy with a key authority."""
    lines = [
        "# Enforced in namespaces labelled policy.sigstore.dev/include=true.",
        "# No ctlog on the authority: the transparency log is not consulted (offline key).",
        "apiVersion: policy.sigstore.dev/v1beta1",
        "kind: ClusterImagePolicy",
        "metadata:",
        f"  name: {_yaml_str(name)}",
        "spec:",
        "  images:",
        f"    - glob: {_yaml_str(pattern)}",
        "  authorities:",
        "    - name: gitguard-release-key",
        "      key:",
        "        hashAlgorithm: sha256",
        "        data: " + _yaml_block(public_pem, 10),
    ]
    return "\n".join(lines) + "\n"


def cmd_policy(args: argparse.Namespace) -> int:
    from gitguard.images.keys import read_public_key

    key = read_public_key(args.key)
    pem = key.pem.decode("ascii")
    if args.kind == "kyverno":
        text = kyverno_policy(args.name, args.pattern, pem, dict(args.annotations))
    else:
        if args.annotations:
            raise UsageError(
                "policy-controller key authorities cannot require annotations; "
                "use --kyverno, or drop -a"
            )
        text = policy_controller_policy(args.name, args.pattern, pem)
    sys.stdout.write(text)
    return 0


def _open_queue(args: argparse.Namespace) -> Any:
    from gitguard.gitobjects import open_repo
    from gitguard.release.trigger import open_queue

    return open_queue(open_repo(args.chdir))


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) + "Z"


def cmd_release_status(args: argparse.Namespace) -> int:
    with _open_queue(args) as queue:
        jobs = queue.jobs()
    if args.json:
        json.dump({"version": 1, "jobs": [j.to_json() for j in jobs]}, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    if not jobs:
        sys.stdout.write("no release signing jobs\n")
        return 0
    for j in jobs:
        detail = j.digest or ""
        if j.state == "pending":
            detail = f"attempt {j.attempts}, next {_when(j.next_attempt)}"
        line = f"{j.id:>4}  {j.state:<8} {j.tag:<20} {j.image}  {detail}".rstrip()
        sys.stdout.write(line + "\n")
        if j.last_error and j.state != "done":
            sys.stdout.write(f"      last error: {j.last_error}\n")
    return 0


def cmd_release_retry(args: argparse.Namespace) -> int:
    from gitguard.release.trigger import run_jobs

    with _open_queue(args) as queue:
        if args.ids:
            jobs = []
            for job_id in args.ids:
                job = queue.get(job_id)
                if job is None:
                    raise UsageError(f"no release job {job_id} (see `guard release status`)")
                jobs.append(job)
        elif args.due:
            jobs = queue.due()
        else:
            jobs = queue.jobs(("pending", "failed"))
        if not jobs:
            sys.stdout.write("no release jobs to run\n")
            return 0
        ok = True
        for job, line in run_jobs(queue, jobs):
            sys.stdout.write(line + "\n")
            after = queue.get(job.id)
            ok = ok and after is not None and after.state == "done"
    return 0 if ok else 1
