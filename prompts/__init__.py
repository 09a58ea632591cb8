"""The chatbot's wording, kept as data: sentence templates, general facts, question intents, vocabulary, replies.

Files in this folder (YAML; JSON and TOML files with the same layout work too):

- ``templates.yaml``  sentence templates with ``{fields}`` that turn an explanation.json into the chat context;
- ``knowledge.yaml``  general facts (what XAI is, what S0 means, ...), each with an id, optionally with example
  questions that make it directly answerable;
- ``intents.yaml``    what a question can be about: example questions, keyword cues, which sentences answer it;
- ``vocabulary.yaml`` decision words, region and method names and the phrases that name them;
- ``replies.yaml``    fixed replies (help, out of scope) and the answering settings.

A user adds facts without touching code: drop a file with a ``facts:`` list into ``prompts/facts.d/``, or point
``FACEX_CHAT_FACTS`` at such a file or folder (several paths separated by ``os.pathsep``), or pass
``extra_paths`` to :func:`load_prompts`. A later fact with the same id replaces an earlier one.
"""

from __future__ import annotations

import copy
import json
import os
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

PROMPTS_DIR = Path(__file__).resolve().parent
FACTS_ENV = "FACEX_CHAT_FACTS"
_SUFFIXES = (".yaml", ".yml", ".json", ".toml")


class PromptsError(ValueError):
    """A prompts file is missing, unreadable or has the wrong layout."""


@dataclass
class Prompts:
    """Everything the chatbot says or recognises, loaded from data files."""

    templates: dict  # {"general": {id: template}, "region": {...}, "method": {...}}
    facts: dict[str, dict]  # id -> {"id", "text", "examples", "keywords"}
    intents: dict[str, dict]  # name -> {"examples", "keywords", "answer", "links", "pair", "reply"}
    followups: dict[str, str]
    vocabulary: dict
    replies: dict
    settings: dict
    sources: list[str] = field(default_factory=list)

    def reply(self, name: str, **fields) -> str:
        """A fixed reply with ``{help}`` and ``{examples}`` filled in."""
        examples = " ".join(f'"{q}"' for q in self.replies.get("examples", []))
        help_text = self.replies["help"].format(examples=examples)
        return self.replies[name].format(help=help_text, examples=examples, **fields)

    def with_facts(self, facts: Iterable[dict]) -> Prompts:
        """A copy with ``facts`` added (same layout as a ``facts:`` list in a file)."""
        new = copy.deepcopy(self)
        _merge_facts(new, list(facts), "<added>")
        return new


def read_data_file(path: Path) -> dict:
    """Parse one YAML / JSON / TOML file into a dict (empty file -> {})."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PromptsError(f"cannot read prompts file {path}: {exc}") from exc
    try:
        if path.suffix == ".json":
            data = json.loads(raw or "{}")
        elif path.suffix == ".toml":
            data = tomllib.loads(raw)
        else:
            data = yaml.safe_load(raw) or {}
    except (yaml.YAMLError, json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PromptsError(f"prompts file {path} is not valid {path.suffix.lstrip('.')}: {exc}") from exc
    if not isinstance(data, dict):
        raise PromptsError(f"prompts file {path} must hold a mapping at the top level")
    return data


def _fact_files(extra_paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for entry in extra_paths:
        p = Path(entry).expanduser()
        if p.is_dir():
            files.extend(sorted(f for f in p.iterdir() if f.suffix in _SUFFIXES))
        elif p.exists():
            files.append(p)
        else:
            raise PromptsError(f"facts file or folder {p} does not exist")
    return files


def _merge_facts(prompts: Prompts, facts: list, source: str) -> None:
    if not isinstance(facts, list):
        raise PromptsError(f"{source}: 'facts' must be a list of {{id, text}} entries")
    for i, fact in enumerate(facts):
        if not isinstance(fact, dict) or not fact.get("id") or not isinstance(fact.get("text"), str):
            raise PromptsError(f"{source}: fact #{i + 1} needs an 'id' and a 'text'")
        entry = {
            "id": str(fact["id"]),
            "text": fact["text"].strip(),
            "examples": [str(q) for q in fact.get("examples", []) or []],
            "keywords": list(fact.get("keywords", []) or []),
        }
        prompts.facts[entry["id"]] = entry
        if entry["examples"]:
            # A fact with example questions becomes an intent of its own, answered by that fact.
            cues = {rf"\b{re.escape(k.lower())}\b": 0.35 for k in entry["keywords"]}
            prompts.intents[f"fact:{entry['id']}"] = {
                "examples": entry["examples"], "keywords": cues, "answer": [entry["id"]],
                "links": "none", "pair": False,
            }


def _check_intents(intents: dict) -> None:
    for name, spec in intents.items():
        for pattern in (spec.get("keywords") or {}):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise PromptsError(f"intent {name!r}: bad keyword pattern {pattern!r}: {exc}") from exc
        spec.setdefault("examples", [])
        spec.setdefault("keywords", {})
        spec.setdefault("answer", [])
        spec.setdefault("links", "none")
        spec.setdefault("pair", False)


def load_prompts(extra_paths: Iterable[str | Path] | None = None, directory: str | Path | None = None) -> Prompts:
    """Load the prompts in ``directory`` (default: this folder), then user facts.

    User facts come from ``<directory>/facts.d/``, the ``FACEX_CHAT_FACTS`` environment variable and
    ``extra_paths``, in that order.
    """
    base = Path(directory) if directory else PROMPTS_DIR
    templates = read_data_file(base / "templates.yaml")
    intents_file = read_data_file(base / "intents.yaml")
    vocabulary = read_data_file(base / "vocabulary.yaml")
    replies = read_data_file(base / "replies.yaml")
    for name, data, keys in (
        ("templates.yaml", templates, ("general", "region", "method")),
        ("intents.yaml", intents_file, ("intents",)),
        ("vocabulary.yaml", vocabulary, ("decisions", "methods", "regions")),
        ("replies.yaml", replies, ("help", "out_of_scope", "empty", "settings")),
    ):
        missing = [k for k in keys if k not in data]
        if missing:
            raise PromptsError(f"{base / name} lacks {', '.join(missing)}")
    prompts = Prompts(
        templates=templates,
        facts={},
        intents=dict(intents_file["intents"]),
        followups=dict(intents_file.get("followups", {})),
        vocabulary=vocabulary,
        replies=replies,
        settings=dict(replies["settings"]),
        sources=[str(base)],
    )
    _merge_facts(prompts, read_data_file(base / "knowledge.yaml").get("facts", []), str(base / "knowledge.yaml"))
    paths: list[str | Path] = []
    if (base / "facts.d").is_dir():
        paths.append(base / "facts.d")
    if env := os.environ.get(FACTS_ENV):
        paths.extend(p for p in env.split(os.pathsep) if p)
    paths.extend(extra_paths or [])
    for f in _fact_files(paths):
        _merge_facts(prompts, read_data_file(f).get("facts", []), str(f))
        prompts.sources.append(str(f))
    _check_intents(prompts.intents)
    return prompts


@lru_cache(maxsize=1)
def default_prompts() -> Prompts:
    """The shipped prompts plus facts from facts.d and FACEX_CHAT_FACTS, loaded once per process."""
    return load_prompts()
