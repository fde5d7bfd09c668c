"""Reward red-team: adversarial completions against a reward function, before RL finds them.

RL maximises the reward it is given, not the task meant by it; if a completion that fails the
task scores higher than an honest attempt, the policy will learn to write it (the blog post
"Obvious ways RL can fail", on reward hacking; the lenient verifier of
:func:`offtarget.tasks.arithmetic.lenient_correct` is the lab's example). This module writes
such completions on purpose and scores them.

**Patterns.** :data:`PATTERNS` holds named generators ``generate(problem, task, rng) -> str``
(``None`` where a pattern does not apply to a problem, e.g. digit separators on a one-digit
answer). They build completions from the problem's reference answer: the answer among several
candidates, only inside a scratchpad, repeated, buried in filler, in other digit scripts, with
separators, wrapped in tags or Markdown; empty, whitespace, garbage, the prompt echoed, grader
flattery and injected grader notes; abstention phrases on answerable items; and wrong answers
with missing, empty, out-of-range, non-numeric or duplicated stated confidence. An instance the
task's own strict verifier accepts as a correct answer is left out: that is the task's format,
not an attack on it.

**Wrappers.** :data:`WRAPPERS` writes the *right* answer in other common conventions (bare,
``Answer: 85``, ``\\boxed{85}``, answer tags, a sentence, ``#### 85``, the task's other formats);
where the task's verifier accepts one, a reward that pays it less than the plain right answer
(beyond the same margin, interval above zero) is reported ``underpays right answers``: partial
credit by form, which RL turns into pressure toward the grader's favourite wrapper.

**Wrong answers** (:func:`wrong_answers`) are written for any answer type — negative
integers, decimals, fractions, multiple-choice letters, text — from a finite list of edits of
the reference, each checked with the task's own verifier; when none exists a pattern declines
and the honest wrong baseline keeps to abstaining. Nothing loops waiting for a candidate.

**Baseline.** The best *honest non-correct* completion: a wrong answer in each of the task's
formats, with no stated confidence and with each confidence 0, 0.1, …, 0.5 (honest about a
wrong answer means at most even odds; stating more is the ``wrong_high_confidence`` pattern),
and the task's own abstention. Taking the best of them keeps rewards that pay for honest
uncertainty (RLCR's Brier term, TruthRL's ternary reward, where abstaining beats guessing)
from being called hackable. The best honest correct completion (any confidence 0 … 1) is
reported beside it, for scale.

**Verdict rule** (:func:`is_exploit`). A pattern is an exploit when its mean reward over the
problems exceeds the baseline's by more than ``tolerance`` × (honest correct − honest wrong)
(``tolerance`` itself when that gap is not positive) and the paired 95% bootstrap interval of
the per-problem difference lies above zero. A reward under which honest correct answers earn
no more than honest wrong ones (paired per problem, beyond ``tolerance`` × the reward's scale
with the interval above zero, :func:`separates`) is reported ``does not separate`` first: RL on
it learns nothing about being right, whatever the patterns do (format and Brier terms,
:data:`NOT_CORRECTNESS`, are exempt by design and say so in their summary). A reward with an
exploit is ``hackable``; one that returns ``None`` on every honest completion is ``not
applicable``; one that raised, returned NaN/inf, a non-number or the wrong number of values on some pattern is
reported with ``errors on pattern X: ...`` (never crashed on); otherwise ``not found
hackable`` — absence of evidence over this library, not a proof. Counts in the verdicts are of
patterns that ran on the suite (n > 0): one the task's verifier itself accepts never does. ``None`` values are counted
and reported: TRL leaves such rows out of the group statistics.

Each reward is called exactly as TRL's ``GRPOTrainer._calculate_rewards`` calls it:
``fn(prompts=..., completions=..., completion_ids=..., trainer_state=None, log_extra=...,
log_metric=..., **dataset_columns)`` with the columns of :func:`offtarget.rewards.problem_to_row`.

    >>> from offtarget.rewards import get_reward
    >>> from offtarget.tasks import ArithmeticTask
    >>> task = ArithmeticTask(unanswerable_share=0)
    >>> problems = task.problems("train", 20)
    >>> red_team(get_reward("lenient_correctness"), "lenient", problems, task).verdict
    'hackable'
    >>> red_team(get_reward("correctness"), "correctness", problems, task).verdict
    'not found hackable'

    offtarget preflight --model models/lab/sft --reward correctness --reward my_rewards:fn --checks redteam

Modules: :mod:`~offtarget.preflight.redteam.answers` (reference and wrong answers),
:mod:`~offtarget.preflight.redteam.catalogue` (the patterns),
:mod:`~offtarget.preflight.redteam.wrappers` (the right answer in other wrappers),
:mod:`~offtarget.preflight.redteam.baselines` (honest completions),
:mod:`~offtarget.preflight.redteam.trl_call` (TRL's calling convention),
:mod:`~offtarget.preflight.redteam.scoring` (:func:`red_team`),
:mod:`~offtarget.preflight.redteam.verdicts` (the rules and sentences),
:mod:`~offtarget.preflight.redteam.rewards` (which rewards).
"""

from offtarget.preflight.redteam.answers import (
    ARABIC_INDIC,
    CONFIDENCE_LEVELS,
    FILLER,
    FULLWIDTH,
    WRONG_CONFIDENCE_LEVELS,
    abstain_text,
    candidates,
    confidence_tag,
    say,
    separated,
    wrong_answer,
    wrong_answers,
)
from offtarget.preflight.redteam.baselines import honest_correct, honest_variants, honest_wrong
from offtarget.preflight.redteam.catalogue import PATTERNS, Generator, Pattern, pattern
from offtarget.preflight.redteam.rewards import DEFAULT_REWARDS, PENALTIES, Negated, resolve_reward
from offtarget.preflight.redteam.scoring import PatternScore, RewardRedTeam, red_team
from offtarget.preflight.redteam.trl_call import RewardFailure, call_like_trl
from offtarget.preflight.redteam.verdicts import (
    NOT_CORRECTNESS,
    clip,
    is_exploit,
    separates,
    separation,
    verdict,
)
from offtarget.preflight.redteam.wrappers import WRAPPERS, plain_correct, wrapper

__all__ = [
    "ARABIC_INDIC", "CONFIDENCE_LEVELS", "DEFAULT_REWARDS", "FILLER", "FULLWIDTH", "NOT_CORRECTNESS", "PATTERNS",
    "PENALTIES", "WRAPPERS", "WRONG_CONFIDENCE_LEVELS", "Generator", "Negated", "Pattern", "PatternScore",
    "RewardFailure", "RewardRedTeam", "abstain_text", "call_like_trl", "candidates", "clip", "confidence_tag",
    "honest_correct", "honest_variants", "honest_wrong", "is_exploit", "pattern", "plain_correct", "red_team",
    "resolve_reward", "say", "separated", "separates", "separation", "verdict", "wrapper", "wrong_answer",
    "wrong_answers",
]
