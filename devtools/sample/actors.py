"""Who calls AWS on a routine day: people, CI, instance and Lambda roles, AWS services."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from devtools.sample import identities as who
from devtools.sample.call_mix import (
    ADMIN_CALLS,
    BOB_CALLS,
    CI_CALLS,
    CLI_CALLS,
    CONFIG_CALLS,
    CONSOLE_CALLS,
    INSTANCE_CALLS,
    LAMBDA_CALLS,
)
from devtools.sample.catalog import Call, catalog, const
from devtools.sample.ids import Clock, Ids, Span, draw_times, hourly
from devtools.sample.landscape import REGIONS, Account, Site

Face = tuple[dict[str, Any], str]  # (userIdentity, sourceIPAddress)


@dataclass(frozen=True)
class Actor:
    """A caller: its identities, agents, calls, regions, active hours and share of the day."""

    name: str
    faces: tuple[Face, ...]
    agents: tuple[str, ...]
    calls: tuple[Call, ...]
    call_weights: tuple[float, ...]
    regions: tuple[str, ...]
    region_weights: tuple[float, ...]
    spans: tuple[Span, ...]
    share: float
    tls: bool = True
    console: bool = False
    error_rate: float = 0.0
    version: str = "1.09"

    def times(self, rng: random.Random, n: int) -> list[int]:
        """``n`` seconds-of-day drawn from the actor's active spans."""
        return draw_times(rng, self.spans, n)


@dataclass(frozen=True)
class Login:
    """A console sign-in (recorded in us-east-1)."""

    second: int
    identity: dict[str, Any]
    ip: str
    agent: str
    mfa_device: str | None  # None: the sign-in did not use MFA (federated SSO)


@dataclass(frozen=True)
class Roster:
    """An account's callers, console sign-ins and CI run windows."""

    actors: tuple[Actor, ...]
    logins: tuple[Login, ...]
    ci_runs: tuple[Span, ...]


SERVICE_DAY = hourly([0.5] * 6 + [1.0] * 16 + [0.7] * 2)
EU_DAY = hourly([0.0] * 7 + [1.0] * 11 + [0.0] * 6)
US_DAY = hourly([0.0] * 13 + [1.0] * 10 + [0.0])
EVEN = tuple(1.0 for _ in REGIONS)


def _calls(
    weights: Mapping[str, float], **overrides: str
) -> tuple[tuple[Call, ...], tuple[float, ...]]:
    known = catalog()
    calls = tuple(
        replace(known[a], agent=overrides[a.split(":")[1]])
        if a.split(":")[1] in overrides
        else known[a]
        for a in weights
    )
    return calls, tuple(weights.values())


def _expiry(when: str) -> str:
    """``"Nov 20, 2026, 3:04:05 PM"``, one hour after ``when``."""
    t = datetime.fromisoformat(when.replace("Z", "+00:00")) + timedelta(hours=1)
    return f"{t:%b} {t.day}, {t.year}, {(t.hour - 1) % 12 + 1}:{t:%M:%S %p}"


def assume_role_call(site: Site, role: str, role_id: str, session: str) -> Call:
    """``sts:AssumeRole`` by an AWS service for ``role``/``session``."""
    arn = f"arn:aws:iam::{site.account}:role/{role}"

    def response(ids: Ids, s: Site, when: str) -> Any:
        return {
            "credentials": {
                "accessKeyId": ids.key("ASIA"),
                "sessionToken": "IQoJb3JpZ2luX2VjE" + ids.alnum(60),
                "expiration": _expiry(when),
            },
            "assumedRoleUser": {
                "assumedRoleId": f"{role_id}:{session}",
                "arn": f"arn:aws:sts::{s.account}:assumed-role/{role}/{session}",
            },
        }

    return Call(
        "sts.amazonaws.com",
        "AssumeRole",
        True,
        const({"roleArn": arn, "roleSessionName": session}),
        response,
        resources=lambda ids, s, _request: [
            {"accountId": s.account, "type": "AWS::IAM::Role", "ARN": arn}
        ],
        shared_event=True,
    )


def build_roster(seed: int, clock: Clock, account: Account) -> Roster:
    """The routine callers of ``account`` on ``clock.day``.

    Long-lived values (user, role and access-key ids) depend on the seed only; session keys and
    times change with the day.
    """
    keep = Ids(random.Random(f"{seed}:actors:{account.account_id}"))
    ids = Ids(random.Random(f"{seed}:{clock.day}:actors:{account.account_id}"))
    acct = account.account_id
    actors: list[Actor] = []
    logins: list[Login] = []
    people = {
        name: (keep.key("AIDA", 17), keep.key("AKIA")) for name in ("alice", "bob", "ci-deployer")
    }

    def jitter(h: float) -> int:
        return int(h * 3600) + ids.rng.randint(-600, 600)

    for name, agent, (pid, key), ips, weights, share, errors, spans in (
        (
            "alice",
            who.CLI_MAC,
            people["alice"],
            (who.OFFICE_IP, who.ALICE_HOME_IP),
            CLI_CALLS,
            0.04,
            0.0,
            EU_DAY,
        ),
        (
            "bob",
            who.CLI_LINUX,
            people["bob"],
            (who.BOB_HOME_IP, who.OFFICE_IP),
            BOB_CALLS,
            0.03,
            0.05,
            US_DAY,
        ),
    ):
        calls, cw = _calls(weights)
        actors.append(
            Actor(
                f"{name}-cli",
                tuple((who.iam_user(acct, name, pid, key), ip) for ip in ips),
                (agent,),
                calls,
                cw,
                REGIONS,
                (0.35, 0.6, 0.05) if name == "alice" else (0.7, 0.0, 0.3),
                spans,
                share,
                error_rate=errors,
            )
        )

    sessions = (
        ("alice", 8.1, 10.7, 0.025),
        ("alice", 13.2, 14.4, 0.025),
        ("bob", 15.3, 17.7, 0.03),
    )
    for name, start, end, share in sessions:
        pid, _ = people[name]
        begin, ip = jitter(start), who.OFFICE_IP if name == "alice" else who.BOB_HOME_IP
        identity = who.console_user(acct, name, pid, ids.key("ASIA"), clock.iso(begin))
        calls, cw = _calls(CONSOLE_CALLS)
        actors.append(
            Actor(
                f"{name}-console",
                ((identity, ip),),
                who.CONSOLE,
                calls,
                cw,
                REGIONS,
                (0.6, 0.3, 0.1),
                ((begin + 20, jitter(end), 1.0),),
                share,
                console=True,
                error_rate=0.01,
            )
        )
        login_id = {k: identity[k] for k in ("type", "principalId", "arn", "accountId", "userName")}
        logins.append(
            Login(
                begin,
                login_id,
                ip,
                who.BROWSER if name == "alice" else who.FIREFOX,
                f"arn:aws:iam::{acct}:mfa/{name}-yubikey",
            )
        )

    sso_role = f"AWSReservedSSO_AdministratorAccess_{keep.hex(16)}"
    sso_id = keep.key("AROA", 17)
    for start, end in ((10.0, 11.5), (19.1, 20.0)):
        begin = jitter(start)
        identity = who.assumed_role(
            acct,
            sso_role,
            sso_id,
            "carol@example.com",
            ids.key("ASIA"),
            clock.iso(begin),
            path="/aws-reserved/sso.amazonaws.com/",
        )
        calls, cw = _calls(ADMIN_CALLS)
        actors.append(
            Actor(
                "sso-admin",
                ((identity, who.CAROL_IP),),
                who.CONSOLE,
                calls,
                cw,
                REGIONS,
                (0.7, 0.2, 0.1),
                ((begin + 20, jitter(end), 1.0),),
                0.015,
                console=True,
            )
        )
        login_id = {k: identity[k] for k in ("type", "principalId", "arn", "accountId")}
        logins.append(Login(begin, login_id, who.CAROL_IP, who.BROWSER, None))

    runs = tuple(
        (s, s + ids.rng.randint(240, 420), 1.0)
        for s in sorted(
            ids.rng.randint(7 * 3600, 22 * 3600) for _ in range(8 if account.env == "prod" else 14)
        )
    )
    pid, key = people["ci-deployer"]
    calls, cw = _calls(CI_CALLS, UpdateFunctionCode=who.BOTO3_CI)
    actors.append(
        Actor(
            "ci-deployer",
            ((who.iam_user(acct, "ci-deployer", pid, key), who.CI_IP),),
            (who.TERRAFORM,),
            calls,
            cw,
            REGIONS,
            (0.6, 0.3, 0.1),
            runs,
            0.06,
            error_rate=0.003,
        )
    )

    config = who.assumed_role(
        acct,
        "AWSServiceRoleForConfig",
        keep.key("AROA", 17),
        "AWSConfig-Describe",
        ids.key("ASIA"),
        clock.iso(ids.rng.randint(0, 1800)),
        path="/aws-service-role/config.amazonaws.com/",
        invoked_by="config.amazonaws.com",
    )
    calls, cw = _calls(CONFIG_CALLS)
    actors.append(
        Actor(
            "config",
            ((config, "config.amazonaws.com"),),
            ("config.amazonaws.com",),
            calls,
            cw,
            REGIONS,
            EVEN,
            SERVICE_DAY,
            0.15,
            tls=False,
            version="1.08",
        )
    )
    for site in account.sites:
        actors.extend(_site_actors(ids, keep, clock, site))
    return Roster(tuple(actors), tuple(logins), runs)


def _site_actors(ids: Ids, keep: Ids, clock: Clock, site: Site) -> list[Actor]:
    acct, region, w = site.account, (site.region,), site.weight
    role = f"{site.env}-app-instance-role"
    role_id = keep.key("AROA", 17)
    faces = tuple(
        (
            who.assumed_role(
                acct,
                role,
                role_id,
                e.instance_id,
                ids.key("ASIA"),
                clock.iso(ids.rng.randint(0, 3600)),
                ec2=True,
            ),
            e.public_ip or site.nat_ip,
        )
        for e in site.instances
    )
    calls, cw = _calls(INSTANCE_CALLS)
    actors = [
        Actor(
            "instance-role",
            faces,
            (who.JAVA, who.CLI_HOST),
            calls,
            cw,
            region,
            (1.0,),
            SERVICE_DAY,
            0.25 * w,
        )
    ]

    fn_roles = {fn: keep.key("AROA", 17) for fn in site.functions}
    faces = tuple(
        (
            who.assumed_role(
                acct, f"{fn}-role", rid, fn, ids.key("ASIA"), clock.iso(ids.rng.randint(0, 7200))
            ),
            ids.pick(site.lambda_ips),
        )
        for fn, rid in fn_roles.items()
    )
    calls, cw = _calls(LAMBDA_CALLS)
    actors.append(
        Actor(
            "lambda-roles",
            faces,
            (who.BOTO3_LAMBDA,),
            calls,
            cw,
            region,
            (1.0,),
            SERVICE_DAY,
            0.28 * w,
        )
    )

    for service, share, assumed in (
        ("lambda.amazonaws.com", 0.05, [(f"{fn}-role", rid, fn) for fn, rid in fn_roles.items()]),
        ("ec2.amazonaws.com", 0.03, [(role, role_id, e.instance_id) for e in site.instances]),
    ):
        calls = tuple(assume_role_call(site, r, rid, s) for r, rid, s in assumed)
        actors.append(
            Actor(
                f"assume-{service}",
                ((who.aws_service(service), service),),
                (service,),
                calls,
                tuple(1.0 for _ in calls),
                region,
                (1.0,),
                SERVICE_DAY,
                share * w,
                tls=False,
                version="1.08",
            )
        )
    return actors
