"""What a destination needs besides its own settings: the configuration (for AWS clients and the
lakehouse root) and the report link rule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jobs.delivery.model import Delivery
from jobs.delivery.render import report_link


@dataclass(frozen=True)
class Context:
    conf: Mapping[str, Any]

    def link(self, delivery: Delivery, settings: Mapping[str, Any]) -> str | None:
        return report_link(delivery, settings.get("report_base_url"), str(self.conf["lakehouse"]))
