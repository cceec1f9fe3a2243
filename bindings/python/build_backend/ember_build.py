"""A PEP 517 build backend for the ember package: the wheel holds ember/*.py and libember.so,
taken from $EMBER_LIBRARY or the checkout's build/lib, so that the installed module finds its
library next to itself. Pure Python; nothing to download (pyproject.toml: requires = [])."""

import base64
import hashlib
import os
import re
import zipfile

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # bindings/python
ROOT = os.path.dirname(os.path.dirname(HERE))


def _version():
    with open(os.path.join(ROOT, "include", "ember.h")) as f:
        return re.search(r'#define EMBER_VERSION_STRING "([^"]+)"', f.read()).group(1)


def _library():
    explicit = os.environ.get("EMBER_LIBRARY")
    candidates = [explicit] if explicit else [os.path.join(ROOT, "build", "lib", "libember.so.0")]
    for path in candidates:
        if path and os.path.exists(path):
            return os.path.realpath(path)
    raise RuntimeError("ember: no libember.so to put in the wheel: build ember first "
                       "(scripts/setup.sh, or cmake with EMBER_SHARED=ON) or set EMBER_LIBRARY")


def _tag():
    import sysconfig
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"py3-none-{platform}"


def get_requires_for_build_wheel(config_settings=None):
    return []


def _metadata(version):
    return (f"Metadata-Version: 2.1\nName: ember\nVersion: {version}\n"
            "Summary: Local language-model inference and embeddings on CPUs, from GGUF files\n"
            "Requires-Python: >=3.9\n")


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    version = _version()
    info = os.path.join(metadata_directory, f"ember-{version}.dist-info")
    os.makedirs(info, exist_ok=True)
    with open(os.path.join(info, "METADATA"), "w") as f:
        f.write(_metadata(version))
    return os.path.basename(info)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    version = _version()
    tag = _tag()
    name = f"ember-{version}-{tag}.whl"
    info = f"ember-{version}.dist-info"
    files = []
    package = os.path.join(HERE, "ember")
    for entry in sorted(os.listdir(package)):
        if entry.endswith(".py"):
            with open(os.path.join(package, entry), "rb") as f:
                files.append((f"ember/{entry}", f.read()))
    with open(_library(), "rb") as f:
        files.append(("ember/libember.so", f.read()))
    files.append((f"{info}/METADATA", _metadata(version).encode()))
    files.append((f"{info}/WHEEL", (f"Wheel-Version: 1.0\nGenerator: ember_build\n"
                                    f"Root-Is-Purelib: false\nTag: {tag}\n").encode()))
    record = []
    for path, data in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode()))
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in files:
            info_entry = zipfile.ZipInfo(path, date_time=(2026, 1, 1, 0, 0, 0))
            info_entry.external_attr = (0o755 if path.endswith(".so") else 0o644) << 16
            z.writestr(info_entry, data, zipfile.ZIP_DEFLATED)
    return name
