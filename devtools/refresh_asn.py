"""Refresh the IP -> ASN data in ``conf/intel/asn/`` from the npm package ``@ip-location-db/asn``.

    python devtools/refresh_asn.py                  # npm pack the newest version, rewrite the files
    python devtools/refresh_asn.py --version 2.3.2026061719
    python devtools/refresh_asn.py --tarball ip-location-db-asn-2.3.2026061719.tgz   # no npm needed

Needs npm only to fetch the tarball (``npm pack``); the project itself never needs npm. The
output is deterministic (sorted rows, gzip without a timestamp), so an unchanged upstream gives
byte-identical files. Overlapping upstream ranges are resolved so the narrower range wins.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import ipaddress
import json
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

PACKAGE = "@ip-location-db/asn"
ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "conf" / "intel" / "asn"
MEMBERS = {4: "package/asn-ipv4-num.csv", 6: "package/asn-ipv6-num.csv"}
LICENSE_MEMBERS = ("DBIP-LICENSE", "ROUTEVIEWS-LICENSE", "NRO_LICENSE", "MODIFICATIONS")
V6_LIMIT = (1 << 126) - 1  # the largest address that fits DECIMAL(38,0): 3fff:ffff:...
HEADER = ["start_ip", "end_ip", "asn", "as_org"]
# IANA special-purpose AS numbers (RFC 5398, 6996, 7300, 7607, AS_TRANS): they name no organisation.
RESERVED_ASNS = ((0, 0), (23456, 23456), (64496, 131071), (4200000000, 4294967295))

Range = tuple[int, int, int, str]


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--tarball", type=Path, help="use this npm tarball instead of running npm pack"
    )
    src.add_argument("--version", default="latest", help=f"{PACKAGE} version for npm pack")
    p.add_argument(
        "--out", type=Path, default=OUT_DIR, help="output directory (default: %(default)s)"
    )
    return p.parse_args(argv)


def npm_pack(version: str, dest: Path) -> Path:
    """Download the package tarball with ``npm pack`` into ``dest``; return its path."""
    cmd = ["npm", "pack", f"{PACKAGE}@{version}", "--json", "--pack-destination", str(dest)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return dest / json.loads(out)[0]["filename"]


def read_rows(lines: Iterable[str]) -> Iterator[Range]:
    """Parse ``start_num,end_num,asn,org`` rows of an upstream ``*-num.csv`` file."""
    for rec in csv.reader(lines):
        if not rec:
            continue
        start, end, asn = int(rec[0]), int(rec[1]), int(rec[2])
        org = " ".join((rec[3] if len(rec) > 3 else "").split())
        yield start, end, asn, org


def is_reserved(asn: int) -> bool:
    """True for AS numbers that IANA reserves (private use, documentation, AS_TRANS, AS0)."""
    return any(lo <= asn <= hi for lo, hi in RESERVED_ASNS)


def disjoint(ranges: Iterable[Range]) -> list[Range]:
    """Sorted, non-overlapping ranges; where ranges overlap, the narrower (inner, or later-starting)
    one wins and the wider one keeps only the parts outside it."""
    out: list[Range] = []
    stack: list[list[int | str]] = []  # [cursor, end, asn, org] of ranges still open

    def close() -> None:
        cursor, end, asn, org = stack.pop()
        if int(cursor) <= int(end):
            out.append((int(cursor), int(end), int(asn), str(org)))
        if stack:
            stack[-1][0] = max(int(stack[-1][0]), int(end) + 1)

    for start, end, asn, org in sorted(ranges, key=lambda r: (r[0], -r[1])):
        while stack and int(stack[-1][1]) < start:
            close()
        if stack:
            parent = stack[-1]
            if int(parent[0]) <= start - 1:
                out.append((int(parent[0]), start - 1, int(parent[2]), str(parent[3])))
            parent[0] = max(int(parent[0]), start)
        stack.append([start, end, asn, org])
    while stack:
        close()
    return out


def clip(version: int, ranges: Iterable[Range]) -> list[Range]:
    """Drop what Spark cannot hold: IPv6 above ``3fff:ffff:...`` (no routed space there)."""
    limit = (1 << 32) - 1 if version == 4 else V6_LIMIT
    return [(s, min(e, limit), a, o) for s, e, a, o in ranges if s <= limit]


def write_csv_gz(path: Path, version: int, ranges: Iterable[Range]) -> int:
    """Write ``start_ip,end_ip,asn,as_org`` rows as deterministic gzip (atomically); return the
    row count. IPv6 addresses are written fully expanded: fixed width, cheap for Spark to parse."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER)
    n = 0
    for start, end, asn, org in ranges:
        if version == 4:
            bounds = [str(ipaddress.IPv4Address(start)), str(ipaddress.IPv4Address(end))]
        else:
            bounds = [ipaddress.IPv6Address(start).exploded, ipaddress.IPv6Address(end).exploded]
        writer.writerow([*bounds, asn, org])
        n += 1
    tmp = path.with_name(path.name + ".tmp")
    with (
        open(tmp, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz,
    ):
        gz.write(buf.getvalue().encode("utf-8"))
    tmp.replace(path)
    return n


def refresh(tarball: Path, out_dir: Path) -> dict[str, object]:
    """Rewrite ``out_dir`` from ``tarball``; return what was written (also saved as SOURCE.json)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    upstream = out_dir / "upstream"
    upstream.mkdir(exist_ok=True)
    with tarfile.open(tarball, "r:gz") as tar:
        meta = json.load(tar.extractfile("package/package.json"))  # type: ignore[arg-type]
        counts: dict[str, int] = {}
        for version, member in MEMBERS.items():
            data = tar.extractfile(member)
            if data is None:
                raise SystemExit(f"{tarball} has no {member}")
            rows = list(read_rows(io.TextIOWrapper(data, encoding="utf-8")))
            fixed = [r for r in clip(version, disjoint(rows)) if not is_reserved(r[2])]
            name = f"ipv{version}.csv.gz"
            counts[name] = write_csv_gz(out_dir / name, version, fixed)
            counts[f"{name} upstream rows"] = len(rows)
            counts[f"{name} reserved-ASN rows dropped"] = sum(is_reserved(r[2]) for r in rows)
        present = set(tar.getnames())
        for name in LICENSE_MEMBERS:
            f = tar.extractfile(f"package/{name}") if f"package/{name}" in present else None
            if f is not None:
                (upstream / name).write_bytes(f.read())
    source = {
        "package": meta["name"],
        "version": meta["version"],
        "license": meta.get("license"),
        "repository": (meta.get("repository") or {}).get("url"),
        "rows": counts,
    }
    (out_dir / "SOURCE.json").write_text(json.dumps(source, indent=2) + "\n")
    return source


def main(argv: list[str]) -> int:
    """Fetch (unless ``--tarball``), convert and report."""
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            tarball = args.tarball or npm_pack(args.version, Path(tmp))
        except (OSError, subprocess.CalledProcessError) as exc:
            print(
                f"refresh_asn: npm pack failed ({exc}); install npm or pass --tarball.",
                file=sys.stderr,
            )
            return 2
        source = refresh(tarball, args.out)
    print(json.dumps(source, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
