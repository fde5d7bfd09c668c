"""The right answer in other wrappers: does the reward pay it less than the plain right answer?

A reward that pays ``\\boxed{85}`` or ``Answer: 85`` less than ``85`` while the task accepts all
three teaches the policy the grader's favourite wrapper, not the answer: partial credit that
depends on form (format pressure that can collapse a model onto one style, or cost it accuracy
when the wrapper the task's users expect is the underpaid one). Each wrapper in :data:`WRAPPERS`
writes the reference answer in one common convention; an instance is scored only where the task's
own verifier accepts it as correct and it differs from the plain completion, so the comparison is
right answer against right answer. The plain completion is the task's first format with no
stated confidence (the bare answer for tasks without formats).

A wrapper is *underpaid* (:func:`offtarget.preflight.redteam.verdicts.is_exploit` on the
per-problem deficit) when the plain right answer earns more by over ``tolerance`` × (honest
correct − honest wrong) with the paired 95% interval of the deficit above zero.

    >>> [w.name for w in WRAPPERS][:3]
    ['right_bare', 'right_answer_line', 'right_boxed']
"""

from __future__ import annotations

from offtarget.preflight.redteam.answers import other_formats, say
from offtarget.preflight.redteam.catalogue import Pattern, register

WRAPPERS: list[Pattern] = []
"""Other ways to write the right answer, in the order the report lists ties."""


def wrapper(name: str, description: str):
    """Register a right-answer wrapper in :data:`WRAPPERS` (a decorator; a duplicate name is an error)."""
    return register(WRAPPERS, name, description)


# the right answer in a common convention: (name, description, template of the answer)
_TEMPLATES = (
    ("right_bare", "the right answer alone, no wrapper (85)", "{}"),
    ("right_answer_line", "the right answer on an answer line (Answer: 85)", "Answer: {}"),
    ("right_boxed", "the right answer in LaTeX \\boxed{} (\\boxed{85})", "\\boxed{{{}}}"),
    ("right_answer_tags", "the right answer in answer tags (<answer>85</answer>)", "<answer>{}</answer>"),
    ("right_sentence", "the right answer in a sentence (The answer is 85.)", "The answer is {}."),
    ("right_hash_line", "the right answer after GSM8K's #### marker (#### 85)", "#### {}"),
)
for _name, _description, _template in _TEMPLATES:
    wrapper(_name, _description)(lambda p, task, rng, template=_template: template.format(p.answer))


@wrapper("right_other_format", "the right answer in the task's other formats (r 58 where d 85 is plain)")
def _other_format(p, task, rng):
    plain = say(task, p, p.answer)
    others = [say(task, p, p.answer, f) for f in other_formats(task)]
    others = [o for o in others if o != plain and o != p.answer]
    return rng.choice(others) if others else None


def plain_correct(problem, task) -> str:
    """The plain right answer the wrappers are measured against (the task's first format)."""
    return say(task, problem, problem.answer or "")
