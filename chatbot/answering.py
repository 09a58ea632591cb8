"""Answering questions about one explanation.

Default (no QA model configured): route the question to an intent (sentence-embedding similarity to example
questions from prompts/intents.yaml plus keyword cues), then answer with the context sentences that intent names,
whole and readable; questions no intent claims are answered with the most similar context sentences (retrieval),
or, when nothing is close, with a short reply saying what can be asked.

With a QA model (``ModelConfig.qa`` set): the paper's cascade. Ask the QA model over the whole context; when its
score is under ``qa_threshold``, ask again over a sub-context of the sentences most similar to the question. The
span's sentence is the answer. Questions about this pair (the decision, the confidence, its regions) only accept a
span from the sentences that state it, so "What is the decision?" never gets a definition.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.context import Context, Sentence, build_context, load_explanation, method_name, readable_region, summarize
from chatbot.dialogue import DialogueState
from chatbot.errors import ChatbotError
from chatbot.executor import Executor, Result
from chatbot.facts import Facts
from chatbot.language import other_language
from chatbot.questions import QuestionParser, load_lexicon
from chatbot.retrieval import QUESTIONS, IntentRouter, IntentScore, SentenceIndex
from chatbot.text import CleanQuestion, clean_question, find_phrases
from explain_engine.record import ExplanationRecord
from models.base import QuestionAnswerer, SentenceEmbedder
from models.config import ModelConfig
from models.errors import FaceXError
from prompts import Prompts, default_prompts, render

ANSWER_METHODS = ("facts", "intent", "qa", "sub-context", "retrieval", "reply")
REGION_INTENTS = ("most_important_region", "least_important_region", "similar_regions", "dissimilar_regions")
RANKING_INTENTS = ("most_important_region", "least_important_region", "ranking")
REPLY_INTENTS = {"empty": "empty", "non_english": "non_english", "out_of_scope": "out_of_scope"}


@dataclass
class ArtifactLink:
    """A file a UI can show next to an answer (relative to the explanation's folder; ``path`` when known)."""

    label: str
    file: str
    kind: str = "heatmap"  # heatmap | overlay | blend | legend
    method: str | None = None
    image: str | None = None  # "a", "b", or None for the legend
    path: str | None = None


@dataclass
class Answer:
    """One answer with everything needed to show, check and log it."""

    question: str  # as the user typed it
    text: str
    score: float
    evidence: list[str]
    method: str  # intent | qa | sub-context | retrieval | reply
    intent: str
    regions: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    links: list[ArtifactLink] = field(default_factory=list)
    evidence_ids: list[str] = field(default_factory=list)
    span: str | None = None  # the QA model's raw span, when a QA model answered
    followup: str | None = None  # how the question was resolved against earlier turns ("why", "about", ...)
    notes: list[str] = field(default_factory=list)
    elapsed_ms: float = 0.0
    cleaned_question: str = ""  # what was answered: markup stripped, cut to length
    frame: dict | None = None  # a computed answer's question and what it was about (chatbot.dialogue)
    refusal: str | None = None  # identity | demographics | legal | not_in_explanation | not_computed

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Answer:
        data = dict(data)
        data["links"] = [ArtifactLink(**link) for link in data.get("links", [])]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Route:
    """What the question was resolved to."""

    intent: str
    score: float
    regions: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    lead: list[str] = field(default_factory=list)  # sentence ids to put first (e.g. the most-important sentence)
    followup: str | None = None
    hits: list = field(default_factory=list)  # retrieval hits, for retrieval routes


class Chatbot:
    """Answers questions about one explanation. Build once per explanation; models can be shared between bots."""

    def __init__(
        self,
        explanation: dict | ExplanationRecord,
        *,
        embedder: SentenceEmbedder | None = None,
        qa: QuestionAnswerer | None = None,
        config: ModelConfig | None = None,
        prompts: Prompts | None = None,
        base_dir: str | Path | None = None,
        settings: dict | None = None,
        allow_edited: bool = False,
    ) -> None:
        started = time.perf_counter()
        self.prompts = prompts or default_prompts()
        self.config = config
        # validates first; an edited record is refused unless allow_edited (then every answer says it is edited)
        self.context: Context = build_context(explanation, self.prompts, base_dir, allow_edited=allow_edited)
        self.record = self.context.record
        self.edited_note = render.edited_sentence(self.record.problems) if self.record.edited else None
        self.explanation = self.context.explanation  # the record as a current-version dict
        self.base_dir = Path(base_dir) if base_dir else None
        self.settings = {**self.prompts.settings, **(settings or {})}
        if embedder is None or (qa is None and config is not None and config.qa):
            from models import registry

            config = config or ModelConfig.from_env()
            self.config = config
            embedder = embedder or registry.create("sentence", config)
            if qa is None and config.qa:
                qa = registry.create("qa", config)
        self.embedder = embedder
        self.qa = qa
        self.index = SentenceIndex(self.context.sentences, embedder)
        self.router = IntentRouter(self.prompts.intents, embedder)
        self.region_set = explanation.get("region_set", "coarse")
        self.region_names = [r["name"] for r in explanation["regions"]]
        self.present = {r["name"] for r in explanation["regions"] if r.get("present")}
        self._followups = {k: re.compile(v, re.IGNORECASE) for k, v in self.prompts.followups.items()}
        self.facts = Facts(self.explanation)
        self.lexicon = load_lexicon()
        self.parser = QuestionParser(self.prompts, self.region_names, self.region_set, self.lexicon)
        self.executor = Executor(self.facts, self.prompts, self.lexicon)
        other_language("warm the language identifier up", self.lexicon["language"])
        self.load_seconds = time.perf_counter() - started

    @classmethod
    def from_file(cls, path: str | Path, **kwargs) -> Chatbot:
        explanation, folder = load_explanation(path, allow_edited=kwargs.get("allow_edited", False))
        return cls(explanation, base_dir=kwargs.pop("base_dir", folder), **kwargs)

    # --- what the question names ------------------------------------------------------------------------------
    def find_regions(self, text: str) -> list[str]:
        concepts = find_phrases(text, {k: v["phrases"] for k, v in self.prompts.vocabulary["regions"].items()})
        out: list[str] = []
        for concept in concepts:
            spec = self.prompts.vocabulary["regions"][concept]
            for name in spec.get(self.region_set, spec.get("coarse", [concept])):
                if name in self.region_names and name not in out:
                    out.append(name)
        return out

    def find_methods(self, text: str) -> list[str]:
        return find_phrases(text, {k: v["phrases"] for k, v in self.prompts.vocabulary["methods"].items()})

    def model_info(self) -> dict:
        def describe(model: Any) -> dict | None:
            if model is None:
                return None
            return {"name": getattr(model, "name", type(model).__name__), "class": type(model).__name__,
                    "source": str(getattr(model, "source", ""))}
        return {
            "face_model": {"name": self.explanation.get("model"), "description": self.explanation.get("model_description")},
            "sentence": describe(self.embedder),
            "qa": describe(self.qa),
        }

    # --- routing ----------------------------------------------------------------------------------------------
    def route(self, q: CleanQuestion, vector: np.ndarray, previous: Answer | None = None) -> Route:  # noqa: C901 -- dispatch over the question kinds of the paper's router, each branch one line
        if not q.text or not any(c.isalnum() for c in q.text):
            return Route("empty", 1.0)
        if q.non_english:
            return Route("non_english", 1.0)
        text = q.lower
        regions, methods = self.find_regions(text), self.find_methods(text)
        scores = self.router.score(text, vector)
        top = scores[0]
        fu = self._followups
        n_words = len(q.words)

        # Follow-ups that only make sense against the previous turn.
        if "why" in fu and fu["why"].match(text):
            return self._why(previous)
        if previous is not None and "more" in fu and fu["more"].match(text):
            return Route("more", 0.9, previous.regions, previous.methods, followup="more")
        elliptical = n_words <= 5 or bool(fu.get("about") and fu["about"].match(text) and n_words <= 8)
        if previous is not None and elliptical and (regions or methods) and top.intent not in ("decision", "confidence"):
            prev_regions = [r for r in previous.regions if r in self.region_names]
            if regions:
                keep = previous.methods if previous.intent == "named_region" and not methods else methods
                return Route("named_region", 0.9, regions, keep, followup="about")
            if previous.intent == "named_region" and prev_regions:
                return Route("named_region", 0.9, prev_regions, methods, followup="about")
            if previous.intent in RANKING_INTENTS:
                return Route(previous.intent, 0.9, [], methods, followup="about")
            return Route("method_info", 0.9, [], methods, followup="about")
        if (previous is not None and not regions and previous.regions and "pronoun" in fu and fu["pronoun"].search(text)
                and (top.intent in ("named_region", *REGION_INTENTS) or top.score < self.settings["min_intent_score"])):
            return Route("named_region", 0.85, [r for r in previous.regions if r in self.region_names], methods,
                         followup="pronoun")

        # A named region: answer about it (leading with the region-list sentence the question asks about).
        if regions:
            lead = []
            if top.intent in REGION_INTENTS or top.intent == "counterfactual":
                lead = [self.prompts.intents[top.intent]["answer"][0]]
            if top.intent in ("output_images", "explanation_method") and top.keywords > 0.2:
                return Route(top.intent, top.score, regions, methods)
            return Route("named_region", max(top.score, 0.8), regions, methods, lead=lead)
        if methods:
            if top.intent in RANKING_INTENTS or top.intent in ("agreement", "explanation_method", "output_images", "inpainting"):
                return Route(top.intent, top.score, [], methods)
            return Route("method_info", max(top.score, 0.8), [], methods)

        best = self._usable(scores)
        hits = self.index.search(vector, k=int(self.settings["retrieval_top_k"]))
        if best is None:
            if hits and hits[0].score >= float(self.settings.get("retrieval_min_score", 0.55)):
                return Route("retrieval", hits[0].score, hits=hits)
            return Route("out_of_scope", max(top.score, 0.0))
        # A user-added fact that fits the question better than any intent's examples.
        if (hits and hits[0].sentence.kind == "knowledge" and hits[0].score >= 0.6
                and hits[0].score > best.score
                and hits[0].sentence.id not in self.prompts.intents[best.intent].get("answer", [])):
            return Route("retrieval", hits[0].score, hits=hits[:1])
        return Route(best.intent, best.score)

    def _usable(self, scores: list[IntentScore]) -> IntentScore | None:
        """The best intent that can be answered without a slot it lacks, if it clears the bar."""
        for s in scores:
            if s.score < self.settings["min_intent_score"]:
                return None
            if s.intent in ("named_region",):  # needs a region; none was named
                continue
            return s
        return None

    def _why(self, previous: Answer | None) -> Route:
        if previous is None:
            return Route("how_decided", 0.8, followup="why")
        regions = [r for r in previous.regions if r in self.region_names]
        if previous.intent in ("named_region", *REGION_INTENTS) and regions:
            return Route("named_region", 0.8, regions, previous.methods, followup="why")
        if previous.intent in ("confidence", "pic", "how_decided", "strength"):
            return Route("strength", 0.8, followup="why")
        if previous.intent == "threshold":
            return Route("calibration", 0.8, followup="why")
        return Route("how_decided", 0.8, followup="why")

    # --- composing ----------------------------------------------------------------------------------------------
    def _expand(self, sid: str, route: Route) -> list[str]:
        e = self.explanation
        if sid.startswith("region."):
            out = []
            for r in route.regions:
                part = sid.split(".", 1)[1]
                if r not in self.present:
                    out.append(f"region.{r}.absent")
                    if part == "summary":  # why it is absent, from the quality stage's visibility facts
                        out.append(f"region.{r}.visibility")
                else:
                    out.append(f"region.{r}.{part}")
            return out
        if sid.startswith("most_region."):
            return [f"region.{e['most_important_region']}.{sid.split('.', 1)[1]}"]
        if sid.startswith("least_region."):
            return [f"region.{e['least_important_region']}.{sid.split('.', 1)[1]}"]
        if sid == "method.ranking":
            return [f"method.{m}.ranking" for m in route.methods]
        if sid == "method.knowledge":
            return [f"k.{m}" for m in (route.methods or e["methods"])]
        if sid == "warning":
            return [s.id for s in self.context.with_prefix("warning.")]
        if self.context.get(sid) is None and self.context.get(f"no_{sid}") is not None:
            return [f"no_{sid}"]  # e.g. "No region made the two faces less similar."
        return [sid]

    def compose(self, route: Route) -> list[Sentence]:
        spec = self.prompts.intents.get(route.intent, {})
        ids = list(route.lead)
        if route.methods and route.intent in ("most_important_region", "least_important_region"):
            ids.append("method.ranking")  # "most important by S1?" -> that method's ranking
        else:
            ids.extend(spec.get("answer", []))
        out: list[Sentence] = []
        for sid in ids:
            for real in self._expand(sid, route):
                s = self.context.get(real)
                if s is not None and s not in out:
                    out.append(s)
        missing = [m for m in route.methods if not self.facts.has_method(m)]
        for m in reversed(missing):  # "not computed, and how to compute it" (prompts/answers.yaml)
            note = self.executor.missing_method(m)
            if note is not None:
                out.insert(0, Sentence(f"note.missing_method.{m}", note.text, "fact", (), (m,)))
        return out

    def links(self, route: Route, sentences: list[Sentence]) -> list[ArtifactLink]:  # noqa: C901 -- one branch per kind of linked heatmap/outline
        policy = self.prompts.intents.get(route.intent, {}).get("links", "none")
        if route.intent == "named_region" or (route.regions and policy == "none"):
            policy = "regions"
        heatmaps = self.explanation.get("heatmaps") or {}
        shown = [*self.explanation["methods"], *(self.explanation.get("one_sided_methods") or [])]
        available = [m for m in dict.fromkeys(shown) if isinstance(heatmaps.get(m), dict)]  # one-sided maps too
        if not available or policy == "none":
            return []
        asked = [m for m in route.methods if m in available]
        default = ["s0"] if "s0" in available else available[:1]
        e = self.explanation
        regions: list[str] = []
        kinds = ("a", "b")
        methods = asked or default
        if policy == "regions":
            regions = [r for r in route.regions if r in self.present]
            if not regions:
                return []
        elif policy == "most":
            regions = [r for r in (e["most_important_region"],) if r]  # None: no region supports the decision
        elif policy == "least":
            regions = [r for r in (e["least_important_region"],) if r]
        elif policy in ("similar", "dissimilar"):
            regions = list(self.context.fields[f"{policy}_names"])
            if not regions:
                return []
        elif policy == "methods":
            methods = asked or available
        elif policy == "all":
            methods = asked or available
            kinds = ("a", "b", "overlay_a", "overlay_b")
        about = f" ({', '.join(readable_region(r) for r in regions)})" if regions else ""
        out: list[ArtifactLink] = []
        for m in methods:
            for k in kinds:
                name = heatmaps[m].get(k)
                if not name:
                    continue
                image = k[-1]
                kind = "heatmap" if k in ("a", "b") else k.split("_")[0]
                label = f"{method_name(m, self.prompts.vocabulary, short=True)} {kind}, image {image.upper()}{about}"
                out.append(ArtifactLink(label, name, kind, m, image, self._path(name)))
        if policy == "all" and heatmaps.get("legend"):
            out.append(ArtifactLink("colour legend", heatmaps["legend"], "legend", None, None, self._path(heatmaps["legend"])))
        return out

    def _path(self, name: str) -> str | None:
        return str(self.base_dir / name) if self.base_dir else None

    # --- answering --------------------------------------------------------------------------------------------
    def answer(self, question: object, history: Sequence[Answer] = ()) -> Answer:
        """Answer ``question``; ``history`` (earlier answers, oldest first) resolves follow-ups."""
        started = time.perf_counter()
        q = clean_question(question, int(self.settings["max_question_chars"]))
        previous = next((a for a in reversed(history) if a.method != "reply"), None)
        if q.text and not q.non_english and other_language(q.text, self.lexicon["language"]):
            q.non_english = True
        if q.text and not q.non_english:
            corrected, changes = self.parser.correct(q.text)
            if changes:
                q.text = corrected
                q.notes.append("read " + ", ".join(f"'{a}' as '{b}'" for a, b in changes))
            computed = self.computed(q, history)
            if computed is not None:
                computed.elapsed_ms = round(1000 * (time.perf_counter() - started), 2)
                return computed
        vector = QUESTIONS.get(self.embedder, [q.text])[0] if q.text else np.zeros(1, dtype=np.float32)
        route = self.route(q, vector, previous)
        answer = self._answer_route(q, vector, route, previous)
        answer.question = q.original
        answer.cleaned_question = q.text
        answer.notes = ([self.edited_note] if self.edited_note else []) + q.notes + answer.notes
        answer.followup = route.followup
        answer.elapsed_ms = round(1000 * (time.perf_counter() - started), 2)
        return answer

    def computed(self, q: CleanQuestion, history: Sequence[Answer] = ()) -> Answer | None:
        """The answer computed from the explanation's facts (chatbot.questions -> chatbot.executor), or None when
        the question is not one the parser represents (it then goes to the intent router and the QA cascade)."""
        state = DialogueState.from_history(history, self.facts)
        parsed = self.parser.parse(q.text, state)
        if parsed is None:
            return None
        try:
            result = self.executor.run(parsed, state)
        except (KeyError, ValueError, TypeError, IndexError, ZeroDivisionError) as exc:
            # A record field of an unexpected shape: answer through the router rather than fail the chat.
            q.notes.append(f"the computed answer failed ({type(exc).__name__}); answered from the context instead")
            return None
        if result is None or not result.text:
            return None
        if result.subject == "quality" and not result.refusal:
            result.text = self._quality_words(parsed, result) or result.text
        return self._from_result(q, parsed, result)

    def _quality_words(self, parsed, result: Result) -> str:
        """Quality and visibility answers in the quality stage's own sentences (explain_engine.quality.words, in
        the context), when the record has them; the executor's words otherwise."""
        sides = [parsed.side] if parsed.side else ["a", "b"]
        if parsed.operation == "visibility":
            ids = [f"region.{r}.visibility" for r in result.regions]
        else:
            ids = [i for side in sides for i in (f"quality.{side}", f"quality.{side}.issues")] + ["quality.hidden"]
        found = [self.context.get(i) for i in ids]
        if not any(found):
            return ""
        head = [result.text.split(". ")[0] + "."] if parsed.operation != "visibility" and any(
            w in parsed.words for w in ("refus", "reject")) else []
        return " ".join(head + [s.text for s in found if s is not None])

    def _from_result(self, q: CleanQuestion, parsed, result: Result) -> Answer:
        frame = {"operation": result.operation if result.operation in self.lexicon["repeatable"] else parsed.operation,
                 "subject": result.subject, "regions": list(result.regions or parsed.regions),
                 "methods": list(result.methods),
                 "side": parsed.side, "k": parsed.k, "number": result.number, "number_kind": result.number_kind,
                 "colour": parsed.colour, "field": parsed.field, "intent": f"facts:{parsed.operation}"}
        if result.refusal and result.refusal != "not_computed":
            frame["operation"] = None
        elif result.refusal == "not_computed":
            frame["operation"], frame["methods"] = parsed.operation, []
        regions = [r for r in result.regions if r in self.region_names]
        answer = Answer(question=q.original, text=result.text, score=1.0, evidence=[result.text], method="facts",
                        intent=f"facts:{parsed.operation}", regions=regions,
                        methods=[m for m in result.methods if m], followup=parsed.followup, notes=list(q.notes),
                        cleaned_question=q.text, frame=frame, refusal=result.refusal,
                        evidence_ids=[f"facts.{k}" for k in result.keys])
        if regions and not result.refusal:
            available = [m for m in answer.methods if m in (self.explanation.get("heatmaps") or {})]
            answer.links = self.links(Route("named_region", 1.0, regions, available), [])
        return answer

    def prepare(self, questions: Sequence[object]) -> None:
        """Encode many questions in one batch ahead of answering them (a file of questions, a test bank)."""
        limit = int(self.settings["max_question_chars"])
        texts = [c.text for c in (clean_question(q, limit) for q in questions) if c.text]
        if texts:
            QUESTIONS.get(self.embedder, texts)

    def explain_route(self, question: object, history: Sequence[Answer] = ()) -> list[tuple[str, float, float, float]]:
        """The top intents for a question with (score, similarity, keyword bonus): for tuning prompts."""
        q = clean_question(question, int(self.settings["max_question_chars"]))
        vector = QUESTIONS.get(self.embedder, [q.text])[0]
        return [(s.intent, round(s.score, 3), round(s.similarity, 3), round(s.keywords, 3))
                for s in self.router.score(q.lower, vector)[:4]]

    def _reply(self, q: CleanQuestion, intent: str, reply: str, score: float) -> Answer:
        return Answer(q.original, self.prompts.reply(reply), float(min(1.0, max(0.0, score))), [], "reply", intent)

    def _answer_route(self, q: CleanQuestion, vector: np.ndarray, route: Route, previous: Answer | None) -> Answer:
        spec = self.prompts.intents.get(route.intent, {})
        if route.intent in REPLY_INTENTS:
            return self._reply(q, route.intent, REPLY_INTENTS[route.intent], route.score)
        if spec.get("reply"):
            return self._reply(q, route.intent, spec["reply"], route.score)
        if route.intent == "more":
            seen = set(previous.evidence_ids) if previous else set()
            query = QUESTIONS.get(self.embedder, [previous.question])[0] if previous and previous.question else vector
            hits = self.index.search(query, k=2, exclude=seen)
            if not hits:
                return self._reply(q, "more", "more_nothing", 0.0)
            route.hits = hits
            route.intent = "retrieval"
        if route.intent == "retrieval":
            sentences = [h.sentence for h in route.hits]
            regions = [r for s in sentences for r in s.regions]
            route.regions = list(dict.fromkeys(regions))
            return self._make(q, route, sentences, "retrieval", route.hits[0].score if route.hits else 0.0)
        sentences = self.compose(route)
        if not sentences:
            return self._reply(q, "out_of_scope", "out_of_scope", route.score)
        if self.qa is not None:
            qa_answer = self._cascade(q, vector, route, sentences)
            if qa_answer is not None:
                return qa_answer
        return self._make(q, route, sentences, "intent", min(1.0, route.score))

    def _make(self, q: CleanQuestion, route: Route, sentences: list[Sentence], method: str, score: float,
              span: str | None = None, notes: list[str] | None = None) -> Answer:
        regions = list(dict.fromkeys(route.regions or [r for s in sentences[:1] for r in s.regions]))
        methods = list(dict.fromkeys(route.methods))
        answer = Answer(
            question=q.original,
            text=" ".join(s.text for s in sentences),
            score=float(min(1.0, max(0.0, score))),
            evidence=[s.text for s in sentences],
            method=method,
            intent=route.intent,
            regions=regions,
            methods=methods,
            evidence_ids=[s.id for s in sentences],
            span=span,
            notes=list(notes or []),
        )
        answer.links = self.links(Route(route.intent, route.score, regions, methods), sentences)
        return answer

    # --- the paper's QA cascade --------------------------------------------------------------------------------
    def _cascade(self, q: CleanQuestion, vector: np.ndarray, route: Route, intent_sentences: list[Sentence]) -> Answer | None:
        """QA over the whole context; under the threshold, QA over the retrieved sub-context; None to fall back."""
        threshold, floor = float(self.settings["qa_threshold"]), float(self.settings["qa_min_score"])
        pair = bool(self.prompts.intents.get(route.intent, {}).get("pair"))
        allowed = {s.id for s in intent_sentences}

        def ask(sentences: list[Sentence]) -> tuple[Any, list[Sentence]]:
            """The best span over ``sentences`` joined, and the sentences it overlaps."""
            text, starts = "", []
            for s in sentences:
                starts.append(len(text))
                text += s.text + " "
            try:
                found = self.qa.answer(q.text, text.rstrip(), top_k=1, max_answer_len=64)
            except FaceXError:  # e.g. a question too long for the QA model's window: answer without it
                return None, []
            if not found:
                return None, []
            best = found[0]
            owners = [s for s, start in zip(sentences, starts) if start < best.end and best.start < start + len(s.text)]
            return best, owners

        best, owners = ask(self.context.sentences)
        method = "qa"
        if best is None or best.score < threshold:
            hits = self.index.search(vector, k=int(self.settings["retrieval_top_k"]))
            sub = list(intent_sentences) + [h.sentence for h in hits if h.sentence not in intent_sentences]
            best, owners = ask(sub)
            method = "sub-context"
            if best is None or best.score < floor:
                return None
        if not owners or not best.text.strip():
            return None
        if pair and any(s.id not in allowed for s in owners):
            # A span from elsewhere (a definition, another region) does not answer a question about this pair.
            return None
        return self._make(q, route, owners, method, best.score, span=best.text)


def format_answer(answer: Answer) -> str:
    """Plain-text rendering for the terminal."""
    lines = [answer.text]
    if answer.links:
        lines.append("  heatmaps: " + ", ".join(link.file for link in answer.links))
    for note in answer.notes:
        lines.append(f"  (note: {note})")
    return "\n".join(lines)


__all__ = ["Answer", "ArtifactLink", "Chatbot", "ChatbotError", "Route", "format_answer", "summarize"]
