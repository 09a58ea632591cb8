"""The explanation record (explanation.json): one typed, versioned schema that the engine writes, the chatbot reads
and the app renders.

The schema is written with pydantic (v2) models rather than dataclasses because loading a record needs exactly what
pydantic does in one call: it validates every field of a nested JSON document, and its errors carry the path of the
failing field (``images.a``, ``regions[3].methods``), which :func:`load_record` turns into one readable line; it
round-trips JSON (``model_dump(mode="json")``) with defaults for the fields older versions lack; and
``extra="allow"`` keeps sections that a newer writer added, so nothing in a record is lost by reading it.

Versions:

- 1: the first record (facex-chat 0.1).
- 2: adds ``digest`` (SHA-256 over the canonical JSON of the record without the digest, see :func:`record_digest`)
  and the optional sections ``quality``, ``evidence`` and ``robustness``. Version-1 files load through
  :func:`migrate_v1` (nothing in them is dropped).

Loading checks, in this order: the JSON parses; the version is known; every field has its type; the record is
internally consistent (the decision agrees with similarity vs threshold, ``margin = similarity - threshold``, the
region names of the table and of the regions block agree); the digest, when present, matches the content. A record
that fails the last two was edited after it was written: :func:`load_record` raises :class:`RecordEditedError`,
or, with ``allow_edited=True``, returns it with ``record.edited`` set and ``record.problems`` saying why.

The record carries numbers and codes; sentences about them are rendered by the ``prompts`` package.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from models.errors import FaceXError

SCHEMA_VERSION = 2
SUPPORTED_VERSIONS = (1, 2)
DECISIONS = ("match", "non-match")
RECORD_FILE = "explanation.json"
MARGIN_TOLERANCE = 5e-4  # hand-rounded records (4 decimals) stay consistent; the digest catches finer edits


class RecordError(FaceXError):
    """explanation.json is missing, unreadable, malformed, of an unknown version or incomplete (one line)."""


class RecordEditedError(RecordError):
    """explanation.json is well formed but was changed after it was written (digest or consistency check failed)."""


class _Open(BaseModel):
    """A section of the record: typed fields, unknown keys kept (newer writers may add them)."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)


Number = float
Section = dict[str, Any]  # sections other parts of the tool fill in (quality, evidence, robustness); typed loosely


class Calibration(_Open):
    name: str | None = None
    fitted_on: str | None = None
    n_genuine: int = 0
    n_impostor: int = 0
    accuracy: Number | None = None
    eer: Number | None = None
    threshold_rule: str | None = None


class ImageInfo(_Open):
    name: str
    width: int
    height: int
    face_box: list[Number] | None = None


class Images(_Open):
    a: ImageInfo
    b: ImageInfo


class MethodScore(_Open):
    """One method's result for one region.

    contribution: normalised, in [-1, 1] (thesis eq. 3.4), positive = the region supports the similarity;
    importance: level 1 (most important) .. 5, relative to the decision; delta: S_ref - S_perturbed in cosine units
    (positive = hiding the region LOWERED the similarity); role: "supports" | "against" | "neutral" (the decision);
    abs_change: |delta|.
    """

    contribution: Number | None = None
    importance: int | None = None
    delta: Number | None = None
    role: Literal["supports", "against", "neutral"] | None = None
    abs_change: Number | None = None


class Region(_Open):
    """One row of the regions block: S0's contribution/importance and each method's."""

    name: str
    present: bool
    contribution: Number | None
    importance: int | None
    methods: dict[str, MethodScore]
    area: Number | None = None
    area_a: Number | None = None
    area_b: Number | None = None
    approximate: bool = False
    absent_reason: str | None = None
    # region visibility from the pixels (explain_engine.quality): share of the mask inside each photo, and covered
    visible_fraction_a: Number | None = None
    visible_fraction_b: Number | None = None
    covered_a: bool | None = None
    covered_b: bool | None = None

    @model_validator(mode="after")
    def _present_has_numbers(self) -> Region:
        if self.present and (self.contribution is None or self.importance is None):
            raise ValueError(f"region {self.name!r} is present but has no numeric contribution/importance")
        return self


class Strength(_Open):
    """How far the decision is from the threshold compared with what hiding regions changes (explain.assess_strength)."""

    similarity: Number | None = None  # the record's similarity and threshold (absent before version 2)
    threshold: Number | None = None
    margin: Number | None = None
    largest_single_change: Number | None = None
    largest_single_region: str | None = None
    largest_abs_change: Number | None = None
    largest_abs_region: str | None = None
    s1_cumulative_change: Number | None = None
    single_share: Number | None = None
    s1_share: Number | None = None
    weak: bool | None = None
    level: str | None = None
    statement: str | None = None  # version 1 stored the sentence; version 2 renders it (prompts.render)


class Counterfactual(_Open):
    """Whether hiding region(s) flips the decision (explain.find_counterfactual)."""

    flips: bool
    regions: list[str] = Field(default_factory=list)
    score_after: Number | None = None
    source: str | None = None  # "s0" | "s1": which method found it
    outcome: Literal["single_region", "region_set", "no_flip", "no_region_towards", "not_searched"] | None = None
    tried: list[str] | None = None  # the S1 run's regions, in order (None: S1 not run)
    similarity: Number | None = None
    threshold: Number | None = None
    statement: str | None = None  # version 1 stored the sentence; version 2 renders it (prompts.render)


class _Signed(_Open):
    """A record with a content digest, and the edited state :func:`load_record` / :func:`load_refusal` set."""

    _edited: bool = PrivateAttr(default=False)
    _problems: list[str] = PrivateAttr(default_factory=list)

    @property
    def edited(self) -> bool:
        """True when the record was loaded with ``allow_edited=True`` and failed the digest or consistency check."""
        return self._edited

    @property
    def problems(self) -> list[str]:
        """Why the record counts as edited (empty when it does not)."""
        return list(self._problems)

    def to_dict(self) -> dict:
        """The JSON-ready dict, with a fresh digest over its content (what :func:`save_record` writes).

        Raises:
            RecordEditedError: the record was loaded as edited (``allow_edited``): it is not given a new digest, which
                would make the edit look genuine. Use ``model_dump(mode="json")`` to keep it with its old digest.
        """
        if self._edited:
            raise RecordEditedError("an edited record is not signed again: " + "; ".join(self._problems))
        data = self.model_dump(mode="json", exclude={"digest"})
        data["digest"] = record_digest(data)
        return data


class ExplanationRecord(_Signed):
    """explanation.json, schema_version 2. Field meanings: the README's record section and the writers' docstrings
    (:class:`explain_engine.engine.Verification`, :class:`explain_engine.explanation.Explanation`)."""

    schema_version: Literal[2] = SCHEMA_VERSION
    # the decision (explain_engine.engine.Verification)
    decision: Literal["match", "non-match"]
    similarity: Number
    distance: Number
    threshold: Number
    margin: Number
    confidence: Number | None
    confidence_meaning: str | None  # a code ("c_score"; words: prompts/statements.yaml scores); v1: the sentence
    pic_score: Number | None
    pic_meaning: str | None  # a code ("pic"); v1: the sentence
    model: str
    model_description: str | None
    calibration: Calibration
    faces_found: dict[str, int]
    images: Images
    # the attribution
    perturbation: str
    methods: list[str] = Field(min_length=1)
    one_sided_methods: list[str] = Field(default_factory=list)
    region_set: str
    most_important_region: str | None
    least_important_region: str | None
    importance_by: str | None = None
    regions: list[Region] = Field(min_length=1)
    absent_regions: dict[str, str] = Field(default_factory=dict)
    table: list[dict[str, Any]]
    table_columns: dict[str, str] = Field(default_factory=dict)  # column -> method key (v1: -> description)
    agreement: dict[str, Number | None]
    strength: Strength
    counterfactual: Counterfactual
    stability: Section | None
    s1_paths: Section | None = None
    # files written next to the record
    heatmaps: dict[str, dict[str, str] | str]
    legend: str | None = None
    colour_scale: str | None = None  # a code (prompts/statements.yaml heatmap.colour_scales; v1: the sentence)
    region_outlines: dict[str, str] | None = None
    table_csv: str | None = None
    # cost and provenance
    n_embeddings: int | None = None
    embeddings_by_method: dict[str, int] = Field(default_factory=dict)
    timings: dict[str, Number]
    warnings: list[str]
    versions: dict[str, str]
    created: str
    # sections added by later versions of the tool (None when not computed)
    quality: Section | None = None  # {"a"|"b": PhotoQuality.to_dict()} (explain_engine.quality)
    # a photo's quality outcome is warn: no confidence may be worded as certain (prompts/quality_policy.yaml caveat)
    outside_calibration: bool = False
    evidence: Section | None = None
    robustness: Section | None = None
    digest: str | None = None

    @field_validator("regions")
    @classmethod
    def _some_region_present(cls, regions: list[Region]) -> list[Region]:
        if not any(r.present for r in regions):
            raise ValueError("no region is present")
        return regions

    @field_validator("table")
    @classmethod
    def _rows_name_regions(cls, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, row in enumerate(rows):
            if not isinstance(row.get("region"), str):
                raise ValueError(f"row {i} has no region name")  # noqa: TRY004 (pydantic reports ValueErrors)
        return rows

    # --- views ---------------------------------------------------------------------------------------------------
    @property
    def present_regions(self) -> list[Region]:
        return [r for r in self.regions if r.present]

    def region(self, name: str) -> Region | None:
        return next((r for r in self.regions if r.name == name), None)



class RefusalRecord(_Signed):
    """refusal.json: a photo of a pair that the quality check refused, so that no decision was made.

    Written only when asked (``explain ... --refusal-json FILE``, ``verify --json``, the app keeps it in the
    session); never into an explanation folder, which stays empty on a refusal. The chat answers "why was this photo
    refused?" from it (:class:`chatbot.refusal.RefusalChatbot`). ``quality`` has the layout of the explanation
    record's quality section: ``{"a"|"b": PhotoQuality.to_dict()}``, the refused photo's side always, the other one
    when it was checked before the refusal (and passed).
    """

    kind: Literal["refusal"] = "refusal"
    schema_version: Literal[2] = SCHEMA_VERSION
    side: Literal["a", "b"]  # which photo of the pair was refused
    photo: str  # its display name
    images: dict[Literal["a", "b"], dict[str, str]]  # {"a": {"name": ...}, "b": {"name": ...}}
    component: str  # the refusing component the message names (the first in the policy's order)
    message: str  # the one-line error the command line printed
    quality: dict[Literal["a", "b"], Section]
    policy: str | None = None  # the quality policy file it was judged by
    created: str
    versions: dict[str, str] = Field(default_factory=dict)
    digest: str | None = None

    @model_validator(mode="after")
    def _refused_side_refuses(self) -> RefusalRecord:
        block = self.quality.get(self.side)
        if not isinstance(block, dict) or block.get("outcome") != "refuse":
            raise ValueError(f"quality.{self.side}: the refused photo's outcome must be 'refuse'")
        names = [c.get("name") for c in block.get("components") or [] if isinstance(c, dict)
                 and c.get("outcome") == "refuse"]
        if self.component not in names:
            raise ValueError(f"component {self.component!r} is not a refusing component of photo {self.side.upper()}")
        return self

    @property
    def refused(self) -> dict:
        """The refused photo's quality block (``PhotoQuality.to_dict()``)."""
        return self.quality[self.side]

    @property
    def names(self) -> dict[str, str]:
        """{"a": name, "b": name}."""
        return {k: v.get("name", k.upper()) for k, v in self.images.items()}

    @classmethod
    def from_error(cls, error, *, versions: dict | None = None) -> RefusalRecord:
        """The record of a :class:`explain_engine.quality.QualityError` raised for one photo of a pair.

        Args:
            error: the QualityError (its ``side``, ``names`` and ``other`` are set by ``Engine.prepare_pair``; a
                photo checked alone counts as photo A).
            versions: software versions to keep with it.

        Raises:
            RecordError: the error carries no quality facts (nothing to record).
        """
        import datetime as dt

        if error.quality is None or error.component is None:
            raise RecordError("the refusal carries no quality facts to record")
        side = error.side or "a"
        names = dict(error.names or {side: error.quality.name})
        quality = {side: error.quality.to_dict()}
        if error.other is not None:
            quality["b" if side == "a" else "a"] = error.other.to_dict()
        from explain_engine.quality import load_policy

        return cls(side=side, photo=error.quality.name, images={k: {"name": v} for k, v in names.items()},
                   component=error.component, message=str(error), quality=quality, policy=load_policy().path,
                   created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), versions=dict(versions or {}))


REFUSAL_FILE = "refusal.json"


def load_refusal(source: str | Path | dict | RefusalRecord, *, allow_edited: bool = False,
                 label: str | None = None) -> RefusalRecord:
    """Read and validate a refusal record (refusal.json).

    Args:
        source: a path to the file (or a folder holding refusal.json), the parsed dict, or a record (returned).
        allow_edited: return a record whose digest does not match its content with ``edited`` set instead of
            raising.
        label: how messages name it (default: the file path).

    Returns:
        The :class:`RefusalRecord`.

    Raises:
        RecordError: missing or unreadable file, invalid JSON, not a refusal record, missing keys or wrong types.
        RecordEditedError: the digest does not match the content (unless ``allow_edited``).
    """
    if isinstance(source, RefusalRecord):
        return source
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        data, name = _read(path / REFUSAL_FILE if path.is_dir() else path)
        name = label or name
    else:
        data, name = source, label or REFUSAL_FILE
    if not isinstance(data, dict) or data.get("kind") != "refusal":
        raise RecordError(f"{name}: not a refusal record (expected \"kind\": \"refusal\")")
    try:
        record = RefusalRecord.model_validate(data)
    except ValidationError as exc:
        raise RecordError(f"{name} is malformed: {_describe(exc.errors())}") from None
    stored = data.get("digest")
    if stored is not None and stored != record_digest(data):
        if not allow_edited:
            raise RecordEditedError(f"{name} was edited: its digest does not match its content")
        record._edited = True
        record._problems = ["its digest does not match its content"]
    return record


def is_refusal(data: Any) -> bool:
    """True for a parsed refusal record (``"kind": "refusal"``), False for an explanation record or anything else."""
    return isinstance(data, dict) and data.get("kind") == "refusal"


# --- canonical form and digest ---------------------------------------------------------------------------------
def canonical_json(data: dict) -> str:
    """The canonical JSON of a record: sorted keys, no whitespace, UTF-8 text, no ``digest`` key, no NaN."""
    body = {k: v for k, v in data.items() if k != "digest"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def record_digest(data: dict) -> str:
    """SHA-256 (hex) of :func:`canonical_json` of ``data`` (the ``digest`` key itself is left out)."""
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


# --- versions --------------------------------------------------------------------------------------------------
RENAMED_METHODS_V1 = {"s0_a": "s0_a_only", "s0_b": "s0_b_only"}  # v1's one-sided S0 keys clashed with "map of A"


def _rename(key: Any) -> Any:
    return RENAMED_METHODS_V1.get(key, key) if isinstance(key, str) else key


def _rename_keys(block: Any) -> Any:
    return {_rename(k): v for k, v in block.items()} if isinstance(block, dict) else block


def migrate_v1(data: dict) -> dict:
    """A version-1 record as version 2: the same content, ``schema_version`` 2, no digest (version 1 had none), and
    the one-sided S0 method keys renamed (``s0_a`` -> ``s0_a_only``, ``s0_b`` -> ``s0_b_only``) wherever a method
    key appears (methods, one_sided_methods, regions[].methods, embeddings_by_method, agreement pairs). Values of
    the wrong type are left as they are for the schema to report."""
    out = dict(data)
    out["schema_version"] = 2
    out.pop("digest", None)
    for key in ("methods", "one_sided_methods"):
        if isinstance(out.get(key), list):
            out[key] = [_rename(m) for m in out[key]]
    if isinstance(out.get("regions"), list):
        out["regions"] = [
            {**r, "methods": _rename_keys(r["methods"])} if isinstance(r, dict) and "methods" in r else r
            for r in out["regions"]
        ]
    if "embeddings_by_method" in out:
        out["embeddings_by_method"] = _rename_keys(out["embeddings_by_method"])
    if isinstance(out.get("agreement"), dict):
        out["agreement"] = {
            "~".join(_rename(m) for m in k.split("~")) if isinstance(k, str) else k: v
            for k, v in out["agreement"].items()
        }
    return out


MIGRATIONS = {1: migrate_v1}


# --- error messages --------------------------------------------------------------------------------------------
def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return "a number" if math.isfinite(value) else f"{value!r}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


_EXPECTED = {
    "model_type": "an object", "model_attributes_type": "an object", "dict_type": "an object",
    "list_type": "a list", "float_type": "a number", "int_type": "a whole number", "string_type": "a string",
    "bool_type": "true or false", "finite_number": "a finite number", "int_from_float": "a whole number",
}  # fmt: skip


_STEP_NAMES = {"function-after", "function-before", "str", "int", "float", "bool", "list", "dict"}


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _STEP_NAMES or "[" in str(part):
            continue  # pydantic's internal step names (union members, validators)
        else:
            out += f".{part}" if out else str(part)
    return out or "record"


def _describe(errors: list[dict]) -> str:
    missing: list[str] = []
    problems: list[str] = []
    seen: set[str] = set()
    for err in errors:
        path = _path(tuple(err["loc"]))
        kind = err["type"]
        if kind == "missing":
            missing.append(path)
            continue
        if path in seen:  # a union reports each alternative; one line per field is enough
            continue
        seen.add(path)
        if kind in _EXPECTED:
            problems.append(f"{path}: expected {_EXPECTED[kind]}, got {_kind(err.get('input'))}")
        elif kind == "literal_error":
            expected = err.get("ctx", {}).get("expected", "")
            problems.append(f"{path}: expected {expected}, got {err.get('input')!r}")
        elif kind == "too_short":
            problems.append(f"{path}: must not be empty")
        elif kind == "value_error":
            problems.append(f"{path}: {str(err['msg']).removeprefix('Value error, ')}")
        else:
            problems.append(f"{path}: {err['msg']}")
    parts = []
    if missing:
        parts.append("missing keys " + ", ".join(missing))
    if len(problems) > 8:
        problems = [*problems[:8], f"and {len(problems) - 8} more problems"]
    parts.extend(problems)
    return "; ".join(parts)


# --- loading ---------------------------------------------------------------------------------------------------
def _read(path: str | Path) -> tuple[dict, str]:
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / RECORD_FILE
    if not path.is_file():
        raise RecordError(f"explanation file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(f"cannot read explanation file {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(f"explanation file {path} is not valid JSON (truncated or not a record?): {exc}") from exc
    return data, str(path)


def consistency_problems(record: ExplanationRecord) -> list[str]:
    """What in a well-typed record contradicts itself (empty when nothing does)."""
    problems = []
    expected = "match" if record.similarity >= record.threshold else "non-match"
    if record.decision != expected:
        relation = "at or above" if expected == "match" else "below"
        problems.append(
            f"the decision is {record.decision!r} but the similarity {record.similarity:.4f} is {relation} the "
            f"threshold {record.threshold:.4f}"
        )
    if abs(record.margin - (record.similarity - record.threshold)) > MARGIN_TOLERANCE:
        problems.append(
            f"the margin {record.margin:+.4f} is not similarity - threshold "
            f"({record.similarity - record.threshold:+.4f})"
        )
    for section in ("strength", "counterfactual"):
        block = getattr(record, section)
        for key in ("similarity", "threshold"):
            value = getattr(block, key)
            if value is not None and abs(value - getattr(record, key)) > 1e-9:
                problems.append(f"{section}.{key} {value:.4f} is not the record's {key} {getattr(record, key):.4f}")
    names = [r.name for r in record.regions]
    present = {r.name for r in record.present_regions}
    if len(set(names)) != len(names):
        problems.append("a region is listed twice in regions")
    table = [row["region"] for row in record.table]
    if record.table and set(table) != present:
        rows, regions = ", ".join(sorted(table)), ", ".join(sorted(present))
        problems.append(f"the table's regions ({rows}) are not the present regions ({regions})")
    for key in ("most_important_region", "least_important_region"):
        name = getattr(record, key)
        if name is not None and name not in present:
            problems.append(f"{key} {name!r} is not a present region")
    for name in record.absent_regions:
        if name in present:
            problems.append(f"region {name!r} is both present and in absent_regions")
    return problems


def load_record(
    source: str | Path | dict | ExplanationRecord, *, allow_edited: bool = False, label: str | None = None
) -> ExplanationRecord:
    """Read and validate one explanation record.

    Args:
        source: a path to explanation.json (or the folder holding it), the parsed dict, or a record (returned as is).
        allow_edited: when the digest does not match the content or the record contradicts itself, return it with
            ``edited`` True and ``problems`` set instead of raising.
        label: how messages name the record (default: the file path, or "explanation.json" for a dict).

    Returns:
        The record as schema version 2 (older versions migrated).

    Raises:
        RecordError: missing or unreadable file, invalid JSON, unknown version, missing keys or wrong types: one
            message naming every failing field by its path (e.g. ``images.a: expected an object, got a string``).
        RecordEditedError: the digest or the consistency check failed (unless ``allow_edited``).
    """
    if isinstance(source, ExplanationRecord):
        return source
    if isinstance(source, (str, Path)):
        data, name = _read(source)
        name = label or name
    else:
        data, name = source, label or RECORD_FILE
    if not isinstance(data, dict):
        raise RecordError(f"{name}: an explanation record must be a JSON object, got {_kind(data)}")
    if "schema_version" not in data:
        raise RecordError(f"{name}: missing key schema_version (is this an explanation record?)")
    version = data["schema_version"]
    if isinstance(version, bool) or version not in (*MIGRATIONS, SCHEMA_VERSION):
        raise RecordError(
            f"{name}: schema_version is {version!r}; this version of facex-chat reads "
            + " and ".join(str(v) for v in SUPPORTED_VERSIONS)
        )
    stored_digest = data.get("digest") if version >= 2 else None
    body = MIGRATIONS[version](data) if version in MIGRATIONS else data
    try:
        record = ExplanationRecord.model_validate(body)
    except ValidationError as exc:
        raise RecordError(f"{name} is malformed: {_describe(exc.errors())}") from None
    problems = consistency_problems(record)
    if stored_digest is not None and (not isinstance(stored_digest, str) or stored_digest != record_digest(data)):
        problems.insert(0, "its digest does not match its content")
    if problems:
        if not allow_edited:
            raise RecordEditedError(f"{name} was edited or is inconsistent: " + "; ".join(problems))
        record._edited = True
        record._problems = problems
    return record


def record_json(record: ExplanationRecord) -> str:
    """The text of explanation.json: the record with a fresh digest, indented."""
    return json.dumps(record.to_dict(), indent=2, ensure_ascii=False) + "\n"


def save_record(record: ExplanationRecord | dict, path: str | Path) -> Path:
    """Write ``record`` (validated first when a dict) as explanation.json to ``path`` (a file or a folder)."""
    path = Path(path)
    if path.is_dir():
        path = path / RECORD_FILE
    path.write_text(record_json(load_record(record)), encoding="utf-8")
    return path
