"""Replay real attack captures through every CloudTrail detection and measure technique coverage.

Two real data sets from ``../shared/data/real`` (never copied into the repository):

- ``stratus-red-team/<technique>.json``: one Stratus Red Team detonation per file; every event of
  a file is that technique's own call.
- ``invictus-sigma-aws/CloudTrail/``: one account while Stratus detonated 26 techniques, with
  1,754 untagged background events. ``labeled/invictus-sigma-aws/event_labels.ndjson`` names
  each tagged event's Stratus session; ``INVICTUS_SESSIONS`` maps each detonating session to its
  technique, read off the session's call histogram (``stratus_sessions.json``): the calls the
  session made *not* through Terraform are the detonation (Terraform calls are the warm-up), and
  they name the technique (GetPasswordData sweep -> ec2-get-password-data, PutBucketLifecycle ->
  cloudtrail-lifecycle-rule, ...). Sessions whose only calls are DescribeAccountAttributes (the
  tool's start-up check) or that undo a detonation (12:11:57 and 12:28:24: remove the sharing,
  StartLogging, delete the user, ...) are not detonations. A technique's own calls are its
  sessions' non-Terraform events, plus (steal-instance-credentials) the untagged calls signed
  with the stolen instance session from the operator's address: the tool uses the stolen keys
  with a plain SDK user agent.

Both are read through the real ingest transforms, the ``stratus-red-team_<uuid>`` marker is
removed from every user agent (a user's logs carry no such label), source addresses get the
shipped ASN enrichment, and every CloudTrail detection runs once over everything with empty
baselines (a first run). A technique is covered when a medium-or-higher alert's evidence holds
one of its own calls.

``python -m tests.coverage_report`` regenerates ``docs/coverage.md``.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.detect.catalog import Detection, detection_params, is_enabled, load_catalog, load_settings
from jobs.detect.evaluate import enable_parameter_binding, evaluate, to_alerts
from jobs.detect.views import register_views
from jobs.enrich import Enrichment
from jobs.enrich.asn import with_asn
from jobs.enrich.intel import register_intel_views
from jobs.enrich.ip import register_sql_functions
from jobs.runtime.config import load_config
from jobs.sources.cloudtrail import normalize_records, with_cloudtrail_extras
from jobs.sources.json_records import split_records
from jobs.sources.readers import read_whole_files

MEDIUM_OR_ABOVE = ("medium", "high", "critical")
MARKER = r"\[?stratus-red-team_[0-9a-fA-F-]+\]?"
PROJECT = Path(__file__).resolve().parents[1]
COVERAGE_PAGE = PROJECT / "docs" / "coverage.md"

# Stratus session (first 8 hex digits) -> technique, from the sessions' call histograms.
INVICTUS_SESSIONS = {
    "39f95f43": "aws.credential-access.ec2-get-password-data",
    "6a7ec681": "aws.credential-access.ec2-steal-instance-credentials",
    "561fe49b": "aws.credential-access.secretsmanager-retrieve-secrets",
    "11a6ef34": "aws.credential-access.ssm-retrieve-securestring-parameters",
    "99607e74": "aws.defense-evasion.cloudtrail-delete",
    "1d949e3e": "aws.defense-evasion.cloudtrail-event-selectors",
    "4990da05": "aws.defense-evasion.cloudtrail-lifecycle-rule",
    "1e5be608": "aws.defense-evasion.cloudtrail-stop",
    "717d4d39": "aws.defense-evasion.cloudtrail-stop",
    "e27c7b82": "aws.defense-evasion.cloudtrail-stop",
    "7d2a6913": "aws.defense-evasion.organizations-leave",
    "20f9795b": "aws.defense-evasion.vpc-remove-flow-logs",
    "9cbca289": "aws.discovery.ec2-download-user-data",
    # SendCommand to the instance whose role is "...-ec2-enumerate-role" (refused: not ready).
    "3a63b39c": "aws.discovery.ec2-enumerate-from-instance",
    "bc31c885": "aws.execution.ec2-launch-unusual-instances",
    "d0fe321d": "aws.execution.ec2-launch-unusual-instances",
    "2142a106": "aws.exfiltration.ec2-security-group-open-port-22-ingress",
    "b47d6b97": "aws.exfiltration.ec2-share-ami",
    "36659dd6": "aws.exfiltration.ec2-share-ebs-snapshot",
    "06a62bf9": "aws.exfiltration.rds-share-snapshot",
    "0362e208": "aws.exfiltration.s3-backdoor-bucket-policy",
    "01190e38": "aws.initial-access.console-login-without-mfa",
    "8f96a106": "aws.persistence.iam-backdoor-role",
    "61e3765a": "aws.persistence.iam-backdoor-user",
    "e1bd4d05": "aws.persistence.iam-create-admin-user",
    "9f92f988": "aws.persistence.iam-create-user-login-profile",
    "1222242e": "aws.persistence.lambda-backdoor-function",
    "7e61c71f": "aws.persistence.lambda-overwrite-code",
    "d42001c7": "aws.persistence.rolesanywhere-create-trust-anchor",
}
STEAL_CREDENTIALS = "aws.credential-access.ec2-steal-instance-credentials"


@dataclass
class Replay:
    """What one replay found: technique -> its own event ids, alerts, and the benign ids."""

    stratus: dict[str, set[str]]
    invictus: dict[str, set[str]]
    untagged: set[str]
    alerts: list[dict[str, Any]] = field(default_factory=list)
    # Look-alike cases: Panther's labelled CloudTrail tests a rule must NOT match (their ids).
    lookalikes: set[str] = field(default_factory=set)
    sample_files: set[str] = field(default_factory=set)

    def quiet_hits(
        self, ids: set[str] | None = None, files: set[str] | None = None
    ) -> list[tuple[str, str, str]]:
        """Medium+ alerts with evidence among ``ids`` or from ``files`` (benign sets)."""
        return sorted(
            (a["detection"], a["severity"], a["title"]) for a in self.alerts
            if a["severity"] in MEDIUM_OR_ABOVE
            and ((ids is not None and a["evidence"] & ids)
                 or (files is not None and a["files"] & files))
        )

    def covered(self, techniques: dict[str, set[str]]) -> dict[str, list[tuple[str, str]]]:
        """Technique -> sorted (detection, severity) of medium+ alerts holding its own calls."""
        out: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for a in self.alerts:
            if a["severity"] not in MEDIUM_OR_ABOVE:
                continue
            for technique, ids in techniques.items():
                if ids & a["evidence"]:
                    out[technique].add((a["detection"], a["severity"]))
        return {t: sorted(v) for t, v in out.items()}

    def benign_hits(self) -> list[tuple[str, str, str]]:
        """Medium+ alerts whose evidence is only Invictus background (no attack event)."""
        attack = set().union(*self.invictus.values(), *self.stratus.values())
        return sorted(
            (a["detection"], a["severity"], a["title"]) for a in self.alerts
            if a["severity"] in MEDIUM_OR_ABOVE and a["evidence"] & self.untagged
            and not a["evidence"] & attack
        )


def cloudtrail_events(
    spark: SparkSession, files: list[str], enrichment: Enrichment, strip_marker: bool = True
) -> DataFrame:
    """Raw CloudTrail files -> the enriched ``cloudtrail_events`` view rows, as the detect job
    builds them (marker removed from user agents when ``strip_marker``)."""
    events = normalize_records(
        split_records(read_whole_files(spark, files), 4096), "replay", F.current_timestamp()
    ).where("reason IS NULL").drop("reason", "record")
    if strip_marker:
        events = events.withColumn(
            "user_agent", F.nullif(F.trim(F.regexp_replace("user_agent", MARKER, "")), F.lit(""))
        )
    events = with_cloudtrail_extras(events)
    ranges = enrichment.asn_ranges
    return with_asn(events, "source_ip", ranges, prefix="src_") if ranges is not None else events


def run_detections(
    spark: SparkSession, events: DataFrame, enrichment: Enrichment
) -> list[dict[str, Any]]:
    """Every enabled CloudTrail detection over ``events`` (one evaluation, empty baselines)."""
    enable_parameter_binding(spark)
    register_sql_functions(spark)
    register_intel_views(spark, enrichment.intel)
    register_views(spark, {"cloudtrail_events": events.cache()}, None)
    conf, settings = load_config("test"), load_settings()
    start, end = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    out = []
    detections: list[Detection] = [
        d for d in load_catalog()
        if "cloudtrail_events" in d.source_tables and is_enabled(d, settings)
    ]
    for d in detections:
        rows = evaluate(spark, d, detection_params(d, settings, conf), start, end)
        for a in to_alerts(rows, d, 3600, "replay", datetime.now(UTC)).collect():
            out.append({
                "detection": d.name, "id": d.id, "severity": a["severity"], "title": a["title"],
                "evidence": {e["id"] for e in a["evidence"]},
                "files": {e["source_file"].rsplit("/", 1)[-1] for e in a["evidence"]},
                "keys": {a["access_key_id"], a["principal_arn"], *(a["source_ips"] or [])} - {None},
            })
    events.unpersist()
    return out


def invictus_labels(real: Path) -> tuple[dict[str, set[str]], set[str]]:
    """Technique -> own event ids in the Invictus capture, and the untagged (background) ids."""
    labels = [
        json.loads(line)
        for line in (real / "labeled/invictus-sigma-aws/event_labels.ndjson").open()
    ]
    records = {}
    for path in sorted((real / "invictus-sigma-aws/CloudTrail").glob("*.json")):
        for r in json.loads(path.read_text())["Records"]:
            records[r["eventID"]] = r
    own: dict[str, set[str]] = defaultdict(set)
    operator: dict[str, set[str]] = defaultdict(set)  # technique -> addresses its calls came from
    stolen: dict[str, set[str]] = defaultdict(set)  # technique -> instances it ran commands on
    untagged = set()
    for label in labels:
        r = records[label["eventID"]]
        if label["label"] != "stratus_tagged":
            untagged.add(label["eventID"])
            continue
        technique = INVICTUS_SESSIONS.get((label["stratus_session"] or "")[:8])
        if technique is None or "terraform" in (r.get("userAgent") or "").lower():
            continue
        own[technique].add(label["eventID"])
        operator[technique].add(r.get("sourceIPAddress"))
        stolen[technique].update((r.get("requestParameters") or {}).get("instanceIds") or [])
    for event_id in list(untagged):  # the stolen instance keys, used from the operator's address
        r = records[event_id]
        arn = (r.get("userIdentity") or {}).get("arn") or ""
        if (
            any(arn.endswith("/" + i) for i in stolen[STEAL_CREDENTIALS])
            and r.get("sourceIPAddress") in operator[STEAL_CREDENTIALS]
        ):
            own[STEAL_CREDENTIALS].add(event_id)
            untagged.discard(event_id)
    return dict(own), untagged


def stratus_labels(real: Path) -> dict[str, set[str]]:
    """Technique (file stem) -> every event id of its detonation file."""
    return {
        p.stem: {e["eventID"] for e in json.loads(p.read_text())}
        for p in sorted((real / "stratus-red-team").glob("*.json"))
    }


def same_call(event: dict[str, Any]) -> str:
    """What a call did, apart from its ids, time, address and client: who (identity type), which
    call, its outcome, request and response."""
    fields = ("eventSource", "eventName", "errorCode", "requestParameters", "responseElements",
              "additionalEventData")
    identity = event.get("userIdentity") or {}
    return json.dumps([event.get(k) for k in fields] + [identity.get("type")], sort_keys=True)


def lookalike_file(real: Path, out: Path) -> tuple[Path, set[str]]:
    """Panther's labelled CloudTrail tests that its rule must not match (``expected: false``,
    complete events, no mocked helpers), as one delivery file under ``out``; and their ids.
    A negative of one rule that is the same call as another rule's positive (a deleted delivery
    channel is a negative of "Config recorder created", a positive of "Config disabled") is not
    a look-alike: it is left out."""
    paths = sorted((real / "labeled/panther-analysis/aws_cloudtrail").glob("*.ndjson"))
    cases = [json.loads(line) for path in paths for line in path.open()]
    positives = {same_call(c["event"]) for c in cases if c["expected"]}
    records, ids = [], set()
    for path in paths:
        for n, line in enumerate(path.open()):
            case = json.loads(line)
            event = case["event"]
            if (
                case["expected"] or case.get("mocks")
                or not {"eventID", "eventTime"} <= event.keys()
            ):
                continue
            if same_call(event) in positives:
                continue
            # Test cases reuse placeholder ids ("1", "1234"): each case gets its own.
            event_id = f"lookalike:{path.stem}:{n}"
            records.append(
                {**{k: v for k, v in event.items() if not k.startswith("p_")}, "eventID": event_id}
            )
            ids.add(event_id)
    target = out / "panther_lookalikes.json"
    target.write_text(json.dumps({"Records": records}))
    return target, ids


def sample_day_files(out: Path) -> list[str]:
    """The sample landing zone's CloudTrail delivery files (one day, generated under ``out``)."""
    from devtools.sample.cli import generate

    generate(out)
    return sorted(str(p) for p in out.glob("AWSLogs/*/CloudTrail/**/*.json.gz"))


def replay(spark: SparkSession, real: Path, scratch: Path, enrichment: Enrichment) -> Replay:
    """Both attack data sets, the look-alike cases and the sample day through ingest and every
    CloudTrail detection, in one evaluation (the sets share no account, principal or hour)."""
    files = sorted(str(p) for p in (real / "stratus-red-team").glob("*.json"))
    files += sorted(str(p) for p in (real / "invictus-sigma-aws/CloudTrail").glob("*.json"))
    lookalikes, lookalike_ids = lookalike_file(real, scratch)
    sample = sample_day_files(scratch / "sample")
    invictus, untagged = invictus_labels(real)
    result = Replay(stratus_labels(real), invictus, untagged, lookalikes=lookalike_ids,
                    sample_files={p.rsplit("/", 1)[-1] for p in sample})
    events = cloudtrail_events(spark, files + [str(lookalikes)] + sample, enrichment)
    result.alerts = run_detections(spark, events, enrichment)
    return result


def render(result: Replay, detections: list[Detection]) -> str:
    """docs/coverage.md: technique -> detections, and the replay results."""
    stratus, invictus = result.covered(result.stratus), result.covered(result.invictus)
    by_technique: dict[str, list[str]] = defaultdict(list)
    for d in detections:
        for t in d.techniques:
            by_technique[t].append(f"`{d.name}` ({d.id})")
    lines = [
        "# Detection coverage",
        "",
        "<!-- generated by python -m tests.coverage_report; do not edit by hand -->",
        "",
        "How the shipped detections cover MITRE ATT&CK techniques, and what they raise on real",
        "attack captures (`../shared/data/real`, see `tests/coverage_report.py` for the method:",
        "real ingest, attack-tool marker removed from user agents, empty baselines, a technique",
        "counts as covered when a medium-or-higher alert's evidence holds one of its own calls).",
        "",
        "## ATT&CK technique -> detections",
        "",
        "| technique | detections |",
        "|---|---|",
    ]
    for t in sorted(by_technique):
        url = "https://attack.mitre.org/techniques/" + t.replace(".", "/") + "/"
        lines.append(f"| [{t}]({url}) | {', '.join(by_technique[t])} |")
    for title, techniques, covered in (
        ("Stratus Red Team detonation files", result.stratus, stratus),
        ("Invictus capture (one account, 26 techniques detonated)", result.invictus, invictus),
    ):
        lines += [
            "", f"## {title}: {len(covered)} of {len(techniques)} covered", "",
            "| Stratus technique | own calls | medium+ alerts on them |", "|---|---|---|",
        ]
        for t in sorted(techniques):
            hits = ", ".join(f"`{d}` ({s})" for d, s in covered.get(t, [])) or "**none**"
            lines.append(f"| `{t}` | {len(techniques[t])} | {hits} |")
    lines += ["", "## Benign sets (no medium-or-higher alert expected)", ""]
    for label, hits in (
        (f"The Invictus capture's {len(result.untagged)} untagged events (Terraform warm-up and "
         "clean-up, AWS services, console, SSM agent)", result.benign_hits()),
        (f"{len(result.lookalikes)} look-alike cases (Panther's labelled CloudTrail tests its "
         "rules must not match)", result.quiet_hits(ids=result.lookalikes)),
        ("The sample day's CloudTrail (`python -m devtools.sample`) apart from its injected attack",
         sample_noise(result)),
    ):
        lines.append(f"- {label}: " + (f"{len(hits)} medium-or-higher alerts" if hits else "none."))
        lines += [f"  - `{d}` ({s}): {t}" for d, s, t in hits]
    lines.append("")
    return "\n".join(lines)


def sample_noise(result: Replay) -> list[tuple[str, str, str]]:
    """Medium+ alerts on the sample day that do not involve its injected attack."""
    from devtools.sample.cli import ATTACK

    markers = {ATTACK.access_key_id, ATTACK.attacker_ip, f"arn:aws:iam::{ATTACK.account_id}:root"}
    return sorted(
        (a["detection"], a["severity"], a["title"]) for a in result.alerts
        if a["severity"] in MEDIUM_OR_ABOVE and a["files"] & result.sample_files
        and not (a["keys"] & markers)
    )


def main(argv: list[str] | None = None) -> int:
    """Regenerate docs/coverage.md (``--check`` fails when it is stale)."""
    import tempfile

    from jobs.runtime.session import build_session
    from tests.conftest import SHARED_REAL

    args = list(sys.argv[1:] if argv is None else argv)
    spark = build_session(load_config("test"), app_name="trailwarden-coverage")
    with tempfile.TemporaryDirectory() as scratch:
        text = render(replay(spark, SHARED_REAL, Path(scratch), Enrichment.build(spark)),
                      load_catalog())
    if "--check" in args:
        stale = not COVERAGE_PAGE.is_file() or COVERAGE_PAGE.read_text() != text
        print("docs/coverage.md is stale" if stale else "docs/coverage.md is up to date")
        return 1 if stale else 0
    COVERAGE_PAGE.write_text(text)
    print(f"wrote {COVERAGE_PAGE.relative_to(PROJECT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
