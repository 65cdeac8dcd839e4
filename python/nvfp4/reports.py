"""Reports as Python objects: the JSON the nvfp4 command prints with ``--json`` (schemas in
docs/schema/), parsed, with attributes for what a test asks first."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Tuple


class Report:
    """A JSON report: ``report["field"]`` reads it, ``.passed`` is its verdict, ``.to_json()``
    gives the JSON text back (the same object: ``Report.from_json(r.to_json()) == r``)."""

    def __init__(self, data: Dict[str, Any]) -> None:
        self.data = data

    @classmethod
    def from_json(cls, text: str) -> Report:
        """A report from its JSON text."""
        return cls(json.loads(text))

    @property
    def passed(self) -> bool:
        """True iff every check of the report holds (the command would exit 0)."""
        return bool(self.data["passed"])

    @property
    def schema(self) -> str:
        """Which schema of docs/schema/ the report follows, e.g. "nvfp4-diff-report"."""
        return str(self.data["schema"])

    def to_json(self, indent: Optional[int] = 2) -> str:
        """The report as JSON text."""
        return json.dumps(self.data, indent=indent)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Report) and self.data == other.data

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.data.get('schema')} passed={self.data.get('passed')}>"


@dataclass(frozen=True)
class Mismatch:
    """The first differing element of one parameter: ``index`` in the engine's tensor, the
    checkpoint tensor (row, k-block) it comes from in ``source``, both values, how many differ."""

    param: str
    verdict: str
    index: str
    source: str
    expected: str
    found: str
    count: int


@dataclass(frozen=True)
class ModuleResult:
    """One module's verdicts: ``semantic`` and ``layout`` are "ok", "fail", "not read" or
    "absent", as in the report."""

    module: str
    kind: str
    in_dump: bool
    semantic: str
    layout: str
    params: Tuple[str, ...]
    unexplained: Tuple[str, ...]
    mismatches: Tuple[Mismatch, ...]
    unreconciled: Tuple[Dict[str, Any], ...]
    allow_unknown: bool = False

    @property
    def passed(self) -> bool:
        """The report's rule for a failed module: a verdict that is "fail", or a tensor under the
        module's name that no check read (unless allow_unknown). An absent module fails nothing."""
        if not self.in_dump:
            return True
        return "fail" not in (self.semantic, self.layout) and (self.allow_unknown or not self.unexplained)

    @classmethod
    def from_json(cls, m: Dict[str, Any], allow_unknown: bool = False) -> ModuleResult:
        return cls(m["module"], m["kind"], m["in_dump"], m["semantic"], m["layout"], tuple(m["params"]), tuple(m["unexplained"]),
                   tuple(Mismatch(**x) for x in m["mismatches"]), tuple(m["unreconciled"]), allow_unknown)


class DiffReport(Report):
    """``nvfp4 diff``'s report: per module results in ``.modules``."""

    @property
    def modules(self) -> List[ModuleResult]:
        """Every quantized module of the checkpoint, in checkpoint order."""
        allow = bool(self.data["allow_unknown"])
        return [ModuleResult.from_json(m, allow) for m in self.data["modules"]]

    @property
    def failed_modules(self) -> List[ModuleResult]:
        """The modules that fail (``report["modules_failed"]`` of them)."""
        return [m for m in self.modules if not m.passed]

    def first_difference(self) -> Optional[Tuple[ModuleResult, Optional[Mismatch]]]:
        """The first failed module and its first mismatch (None where it failed only by a tensor
        no check read); None when the report passed."""
        for m in self.failed_modules:
            return m, (m.mismatches[0] if m.mismatches else None)
        return None


__all__ = ["Report", "DiffReport", "ModuleResult", "Mismatch"]
