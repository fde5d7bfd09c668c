"""reasoning-gym families as offtarget suites: difficulty configs as splits, graded by their own scorers.

reasoning-gym (open-thought/reasoning-gym; "Reasoning Gym: Reasoning Environments for
Reinforcement Learning with Verifiable Rewards") generates verifiable problems procedurally
from a config; each family ships ``score_answer(answer, entry)``, the reward it was designed
with. ``--suite rg:FAMILY`` (or ``reasoning-gym:FAMILY``) makes any registered family a suite::

    offtarget audit --suite rg:basic_arithmetic --model base=models/lab/base --model rl=PATH
    offtarget audit --suite "rg:chain_sum?max_digits=2&ood.min_digits=5&ood.max_digits=6" ...

**Splits.** ``train`` and ``test`` use the family's in-distribution config, ``ood`` a harder
one; options in the suite string override fields of the ID config (``max_digits=2``) and, with
an ``ood.`` prefix, of the OOD config. The defaults (reasoning-gym's own config field names):

==================  =========================================  ===========================================
family              test / train (in distribution)             ood (harder)
==================  =========================================  ===========================================
basic_arithmetic    reasoning-gym default: 2–6 terms,          6–8 terms, 4–6 digits
                    1–4 digits, + − × ÷, parentheses
chain_sum           reasoning-gym default: 2–6 terms,          6–10 terms, 4–6 digits
                    1–4 digits, + −
products            reasoning-gym default: 2 terms, 1–5 digits  3–4 terms, 4–6 digits
spell_backward      words of 3–7 letters (text answer)         words of 8–10 letters
word_sorting        reasoning-gym default: 3–10 words          15–25 words
                    (text answer: a comma-separated list)
any other family    reasoning-gym default                      only with ``ood.FIELD=VALUE`` options
==================  =========================================  ===========================================

Problem ``i`` of a split comes from a dataset seeded with ``crc32(family/split/seed)``, so
problems are deterministic in the audit seed and train/test draw from separate seed streams
(a tiny config can still repeat a question by chance). The ``slice`` of numeric families is
the operand digit count (``digits=3``).

**Verification.** The final answer is reasoning-gym's ``<answer>...</answer>`` tag when the
completion has one (format ``answer-tag``), else offtarget's JSONL extraction
(:mod:`offtarget.tasks.jsonl`: ``\\boxed{}``, ``Answer:`` line, last number; abstentions and
stated confidences as there). A verdict is correct when the family's ``score_answer`` gives
1.0; the partial credit it gives otherwise is the ``reasoning_gym`` reward
(:func:`score`). Each problem carries the reasoning-gym entry (question, answer, metadata)
and the config it was drawn with in ``metadata["reasoning_gym"]``.

**Not in reasoning-gym: unanswerable items.** No family has a question whose right response is
to abstain, so on these suites the abstention probe has nothing to measure and reports itself
unavailable.

    >>> from offtarget.tasks import get_task
    >>> task = get_task("rg:basic_arithmetic")
    >>> p = task.problems("test", 1)[0]
    >>> task.verify(p, f"<answer>{p.answer}</answer>").correct
    True
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from typing import Any

from offtarget.errors import OfftargetError
from offtarget.tasks.jsonl import JsonlTask
from offtarget.tasks.problem import Problem, Verdict
from offtarget.tasks.registry import register_task

ID_CONFIGS: dict[str, dict[str, Any]] = {
    "basic_arithmetic": {},
    "chain_sum": {},
    "products": {},
    "spell_backward": {"min_word_len": 3, "max_word_len": 7},
    "word_sorting": {},
}
"""Per family, the overrides of reasoning-gym's default config for ``train`` and ``test``."""

OOD_CONFIGS: dict[str, dict[str, Any]] = {
    "basic_arithmetic": {"min_terms": 6, "max_terms": 8, "min_digits": 4, "max_digits": 6},
    "chain_sum": {"min_terms": 6, "max_terms": 10, "min_digits": 4, "max_digits": 6},
    "products": {"min_terms": 3, "max_terms": 4, "min_digits": 4, "max_digits": 6},
    "spell_backward": {"min_word_len": 8, "max_word_len": 10},
    "word_sorting": {"min_words": 15, "max_words": 25},
}
"""Per family, the overrides of reasoning-gym's default config for ``ood``."""

SLICE_FIELD = {"basic_arithmetic": "num_digits", "chain_sum": "num_digits", "products": "num_digits"}
"""Entry-metadata field a family's problems are sliced by (``digits=N``); other families: ``all``."""

_ANSWER_TAG = re.compile(r"<answer>\s?(.*?)\s?</answer>", re.DOTALL)
_SPLIT_STREAMS = ("train", "test", "ood")


def _reasoning_gym():
    try:
        import reasoning_gym
    except ImportError:
        raise OfftargetError(
            "suite rg:...: reasoning-gym is not installed; pip install 'offtarget[reasoning-gym]'"
        ) from None
    return reasoning_gym


def families() -> list[str]:
    """Every reasoning-gym family this installation can build, sorted."""
    _reasoning_gym()
    from reasoning_gym.factory import DATASETS

    return sorted(DATASETS)


def _jsonable(value: Any) -> Any:
    """The entry as JSON would give it back (tuples become lists, enums their value), so a problem
    that travels through a dataset's ``metadata`` column is scored exactly as the original."""
    return json.loads(json.dumps(value, default=lambda o: getattr(o, "value", str(o))))


def _coerce(family: str, config_cls: type, key: str, value: Any) -> Any:
    """A suite-string option (a string) as the type of the config field's default."""
    by_name = {f.name: f for f in fields(config_cls)}
    if key not in by_name or key in ("seed", "size"):
        allowed = sorted(n for n in by_name if n not in ("seed", "size"))
        raise OfftargetError(f"suite rg:{family}: unknown option {key!r}; the config's fields are {allowed}")
    if not isinstance(value, str):
        return value
    default = by_name[key].default
    try:
        if isinstance(default, bool):
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError(value)
            return value.lower() in ("true", "1")
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, (list, tuple)):
            return [v for v in value.split(",") if v]
    except ValueError:
        raise OfftargetError(
            f"suite rg:{family}: option {key}={value!r} must be a {type(default).__name__}"
        ) from None
    return value


@lru_cache(maxsize=64)
def _dataset(family: str, config_json: str, seed: int, size: int):
    """A reasoning-gym dataset for one config (cached: scorers and item generation reuse it)."""
    rg = _reasoning_gym()
    try:
        return rg.create_dataset(family, **json.loads(config_json), seed=seed, size=size)
    except (AssertionError, TypeError, ValueError) as e:
        raise OfftargetError(f"suite rg:{family}: reasoning-gym rejects the config {config_json} ({e})") from None


def score(problem: Problem, answer: str | None) -> float:
    """reasoning-gym's ``score_answer`` for ``answer`` on ``problem`` (0 when there is no answer).

    Uses the entry and config the problem carries, so it also scores problems rebuilt from a
    GRPO dataset's columns.
    """
    info = problem.metadata.get("reasoning_gym")
    if not isinstance(info, dict) or "family" not in info or "entry" not in info:
        raise OfftargetError(
            f"problem {problem.id!r} carries no reasoning-gym entry in metadata['reasoning_gym']; "
            "use the reasoning_gym reward with an rg: suite"
        )
    if not answer:
        return 0.0
    dataset = _dataset(info["family"], json.dumps(info.get("config", {}), sort_keys=True), 0, 1)
    try:
        value = float(dataset.score_answer(answer, info["entry"]))
    except Exception:  # noqa: BLE001 - a scorer that chokes on a model's text scores it 0, as in reasoning-gym
        return 0.0
    return value


def answer_tag(completion: str) -> str | None:
    """reasoning-gym's own answer format: the last ``<answer>...</answer>`` after any ``</think>``."""
    text = completion.rsplit("</think>", 1)[-1]
    found = _ANSWER_TAG.findall(text)
    return found[-1].strip() if found and found[-1].strip() else None


@dataclass
class ReasoningGymTask:
    """One reasoning-gym family as a suite (see the module docstring for splits and scoring)."""

    family: str
    id_config: dict[str, Any]
    """Config fields (beyond reasoning-gym's defaults) of ``train`` and ``test``."""
    ood_config: dict[str, Any] | None
    """Config fields of ``ood``; ``None``: this suite has no ood split."""
    name: str = ""
    formats: tuple[str, ...] = ("answer-tag", *JsonlTask.formats)

    def __post_init__(self) -> None:
        self.name = self.name or f"rg:{self.family}"
        for config in filter(None, (self.id_config, self.ood_config)):  # fail now, not mid-audit
            _dataset(self.family, json.dumps(config, sort_keys=True), 0, 1)

    def config(self, split: str) -> dict[str, Any] | None:
        """The config fields ``split`` is drawn with (``None``: the suite has no such split)."""
        if split in ("train", "test"):
            return self.id_config
        if split == "ood":
            return self.ood_config
        return None

    def problems(self, split: str, n: int, seed: int = 0) -> list[Problem]:
        config = self.config(split)
        if config is None or n <= 0:
            return []
        config_json = json.dumps(config, sort_keys=True)
        ds_seed = zlib.crc32(f"{self.family}/{split}/{seed}".encode())
        dataset = _dataset(self.family, config_json, ds_seed, n)
        digest = f"{zlib.crc32(config_json.encode()):08x}"
        out = []
        for i in range(n):
            entry = _jsonable(dataset[i])
            meta = entry.get("metadata", {})
            field_ = SLICE_FIELD.get(self.family)
            slice_ = f"digits={meta[field_]}" if field_ and field_ in meta else "all"
            out.append(Problem(
                id=f"rg:{self.family}/{split}/{digest}/{seed}/{i}",
                prompt=entry["question"],
                answer=str(entry["answer"]),
                split=split,
                slice=slice_,
                metadata={
                    "answer_type": "exact",
                    "reasoning_gym": {"family": self.family, "config": config, "entry": entry},
                },
            ))
        return out

    def render_answer(self, problem: Problem, fmt: str, answer: str) -> str:
        """``answer`` written in one of :attr:`formats` (the red-team's honest completions use it)."""
        if fmt == "answer-tag":
            return f"<answer>{answer}</answer>"
        return _PARSER.render_answer(problem, fmt, answer)

    def verify(self, problem: Problem, completion: str) -> Verdict:
        return verify(problem, completion)


_PARSER = JsonlTask(name="reasoning-gym")


def verify(problem: Problem, completion: str) -> Verdict:
    """The strict verdict on any reasoning-gym problem (its family and entry come from its metadata)."""
    verdict = _PARSER.verify(problem, completion)  # extraction, abstention, confidence, truncation
    if verdict.answer is None and not verdict.abstained and verdict.format != "malformed":
        return verdict  # reasoning cut off before any answer: an <answer> inside it does not count
    tagged = answer_tag(completion)
    if tagged is not None:
        verdict = replace(verdict, answer=tagged, format="answer-tag", abstained=False)
    if verdict.abstained or verdict.answer is None:
        return replace(verdict, correct=False)
    return replace(verdict, correct=score(problem, verdict.answer) >= 1.0)


def partial_credit(problem: Problem, completion: str) -> float | None:
    """The ``reasoning_gym`` reward: the family's score of the completion's answer, in [0, 1] for
    reasoning-gym's scorers; 0 for an abstention or no answer; ``None`` for a problem that is not
    from reasoning-gym."""
    if not isinstance(problem.metadata.get("reasoning_gym"), dict):
        return None
    verdict = verify(problem, completion)
    return 0.0 if verdict.abstained else score(problem, verdict.answer)


@register_task("rg", "reasoning-gym", hint="rg:FAMILY")
def reasoning_gym_suite(family: str | None = None, **options: Any) -> ReasoningGymTask:
    """``rg:FAMILY?FIELD=VALUE&ood.FIELD=VALUE``: a reasoning-gym family (module docstring)."""
    _reasoning_gym()
    from reasoning_gym.factory import DATASETS

    if not family:
        raise OfftargetError("suite rg: name a reasoning-gym family, e.g. rg:basic_arithmetic or rg:chain_sum")
    if family not in DATASETS:
        near = [f for f in sorted(DATASETS) if family.split("_")[0] in f][:8] or sorted(DATASETS)[:8]
        raise OfftargetError(
            f"suite rg:{family}: reasoning-gym has no family {family!r} (e.g. {', '.join(near)}; "
            f"{len(DATASETS)} in all)"
        )
    config_cls = DATASETS[family][1]
    id_config = dict(ID_CONFIGS.get(family, {}))
    ood_config = dict(OOD_CONFIGS[family]) if family in OOD_CONFIGS else None
    for key, value in options.items():
        if key.startswith("ood."):
            ood_config = {} if ood_config is None else ood_config
            field_ = key[4:]
            ood_config[field_] = _coerce(family, config_cls, field_, value)
        else:
            id_config[key] = _coerce(family, config_cls, key, value)
    return ReasoningGymTask(family, id_config, ood_config)
