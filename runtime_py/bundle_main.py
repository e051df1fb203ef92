"""Runs this kappac bundle on the local coordinator, from any directory:

    python3 BUNDLE [--event JSON | --event-file PATH] [--workers N] [--timeout S] ...

BUNDLE is the directory `kappac build` wrote, or its `.zip`. A zip is unpacked into a new
temporary directory (each file checked against the SHA-256 the manifest lists, nothing written
outside that directory) and removed after the run. The options are those of
`python3 -m kappa_coordinator BUNDLE` (`python3 BUNDLE --help`).

(Shipped as the bundle's `__main__.py`.)
"""

import sys

# `python3 BUNDLE` puts BUNDLE (the directory or the zip) first on sys.path, where an app's
# module (`json.py`, `random.py` ...) would take the place of the standard library's in the
# runtime's own imports: it goes last, as the coordinator's `-I` start puts it.
_BUNDLE = sys.path.pop(0)
sys.path.append(_BUNDLE)

import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import zipfile  # noqa: E402


def _unpack(archive):
    """Unpacks a zipped bundle into a new temporary directory; returns it, or exits with a
    clear error (and leaves nothing behind) when the archive is not a bundle kappac wrote."""
    target = tempfile.mkdtemp(prefix="kappa-bundle-")
    try:
        with zipfile.ZipFile(archive) as bundle:
            manifest = json.loads(bundle.read("kappa-manifest.json").decode("utf-8"))
            expected = manifest["files"]
            members = [info for info in bundle.infolist() if not info.is_dir()]
            names = {info.filename for info in members}
            if names != set(expected) | {"kappa-manifest.json"}:
                raise ValueError("its files are not those its manifest lists")
            for info in members:
                parts = info.filename.split("/")
                if info.filename.startswith("/") or any(p in ("", ".", "..") for p in parts):
                    raise ValueError("it names a file outside the bundle: %r" % info.filename)
                data = bundle.read(info)
                if info.filename != "kappa-manifest.json":
                    if hashlib.sha256(data).hexdigest() != expected[info.filename]:
                        raise ValueError("%s does not match its SHA-256 in the manifest" % info.filename)
                path = os.path.join(target, *parts)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "xb") as f:
                    f.write(data)
    except (OSError, KeyError, TypeError, ValueError, zipfile.BadZipFile) as error:
        shutil.rmtree(target, ignore_errors=True)
        sys.exit("error: %s is not a bundle written by kappac build: %s" % (archive, error))
    return target


def main():
    bundle = os.path.abspath(_BUNDLE)
    unpacked = _unpack(bundle) if zipfile.is_zipfile(bundle) else None
    if unpacked is not None:
        sys.path.remove(_BUNDLE)
        sys.path.append(unpacked)
    try:
        from kappa_coordinator.__main__ import main as run

        return run(sys.argv[1:], prog="python3 " + sys.argv[0], bundle=unpacked or bundle)
    finally:
        if unpacked is not None:
            shutil.rmtree(unpacked, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
