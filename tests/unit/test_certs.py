"""The host's extra CAs are carried into builds; private keys never are."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from devenv.cli import cli
from devenv.errors import PlanError
from devenv.files.certs import collect_certificates, write_certificates
from tests.conftest import MakeProject


def make_ca(folder: Path, name: str) -> tuple[Path, Path]:
    """A real self-signed CA (certificate, key) made by openssl."""
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={name}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_local_folder_and_bundles_become_one_file_per_certificate(tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    corp, _ = make_ca(local, "corp")
    proxy, _ = make_ca(tmp_path, "proxy")
    bundle = tmp_path / "bundle.pem"
    bundle.write_text(proxy.read_text() + corp.read_text())  # corp twice: in folder and bundle
    host = collect_certificates({"REQUESTS_CA_BUNDLE": str(bundle)}, local)
    assert host.sources == (corp, bundle)
    assert len(host.certs) == 2 and all(n.endswith(".crt") for n in host.certs)

    target = tmp_path / "docker/certs"
    first = write_certificates(target, host)
    assert len(first.written) == 2 and first.removed == ()
    again = write_certificates(target, host)
    assert again.written == () and again.removed == ()
    (target / "stale.crt").write_text("old\n")
    assert write_certificates(target, host).removed == ("stale.crt",)


def test_the_system_bundle_is_not_copied(tmp_path: Path) -> None:
    env = {"SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt"}
    assert collect_certificates(env, tmp_path / "none").sources == ()


def test_a_private_key_is_refused(tmp_path: Path) -> None:
    cert, key = make_ca(tmp_path, "leaky")
    combined = tmp_path / "combined.pem"
    combined.write_text(cert.read_text() + key.read_text())
    with pytest.raises(PlanError, match=r"combined\.pem: holds a private key"):
        collect_certificates({"PIP_CERT": str(combined)}, tmp_path / "none")


def test_generate_with_a_key_in_the_bundle_writes_nothing(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = make_project()
    cert, key = make_ca(tmp_path, "leaky")
    combined = tmp_path / "combined.pem"
    combined.write_text(cert.read_text() + key.read_text())
    before = sorted(p.name for p in root.rglob("*"))
    result = CliRunner().invoke(
        cli, ["-C", str(root), "generate"], env={"SSL_CERT_FILE": str(combined)}
    )
    assert result.exit_code == 2
    assert "holds a private key" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in root.rglob("*")) == before
