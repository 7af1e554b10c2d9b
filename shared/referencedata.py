"""Reference data the district maintains as files under data/: areas with their populations,
dibao standards in force, and the year's targets. Never constants in code."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from shared.errors import InvalidInput

DATA_DIR = Path(os.environ.get("REFERENCE_DATA_DIR", Path(__file__).resolve().parent.parent / "data"))


@dataclass
class ReferenceData:
    areas: dict[str, dict]
    standards: list[dict] = field(default_factory=list)
    marginal_band_ratio: Decimal = Decimal("1.5")
    version: str = ""

    @classmethod
    def load(cls, directory: Path | None = None) -> "ReferenceData":
        directory = Path(directory or DATA_DIR)
        areas = json.loads((directory / "areas.json").read_text(encoding="utf-8"))
        standards = json.loads((directory / "standards.json").read_text(encoding="utf-8"))
        return cls(areas={a["code"]: a for a in areas["areas"]},
                   standards=standards["standards"],
                   marginal_band_ratio=Decimal(str(standards.get("marginal_band_ratio", "1.5"))),
                   version=areas.get("version", ""))

    def check_area(self, code, field_name: str = "area") -> str:
        if code not in self.areas:
            raise InvalidInput(field_name, f"unknown area; known areas: {', '.join(sorted(self.areas))}",
                               code="input.unknown_area")
        return code

    def area_codes(self) -> list[str]:
        return sorted(self.areas)


def load_targets(year: int, directory: Path | None = None) -> dict:
    path = Path(directory or DATA_DIR) / "targets" / f"{year}.json"
    return json.loads(path.read_text(encoding="utf-8"))
