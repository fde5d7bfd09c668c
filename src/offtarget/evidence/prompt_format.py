"""The prompt format each checkpoint's evidence was sampled with, and a note when they differ.

The same problem prompted as is (``9+29=``) or through a chat template
(``<|im_start|>user\\n9+29=<|im_end|>\\n<|im_start|>assistant\\n``) gives a different
completion distribution; comparing a log sampled one way with a log sampled the other measures
the prompt, not the training. Each source says how it prompted in its own way:

- lm-eval records the prompt it sent (``arguments.gen_args_0.arg_0``, after any chat template);
  a plain completions file may record ``prompt`` the same way;
- an Inspect log records the raw input and, in ``model_args.chat_template``, the template the
  hf provider was given (otherwise the attached checkpoint's tokenizer template is the one used);
- a checkpoint offtarget samples is prompted as :func:`offtarget.models.sampling.render_prompt`
  renders it.

A format is written as a *wrapper*: the text around the problem's prompt, with the prompt
replaced by ``{prompt}``; ``{prompt}`` alone means the problem as is. ``None`` where the
source does not say.

    >>> wrapper_from_template("{% for m in messages %}<u>{{ m['content'] }}</u>{% endfor %}")
    '<u>{prompt}</u>'
    >>> prompt_format_notes({"base": "{prompt}", "sft": "<u>{prompt}</u>", "other": None})[0][:72]
    "prompt format differs between base and sft: base was prompted '{prompt}'"
"""

from __future__ import annotations

from collections import Counter

from offtarget.evidence.records import LogEvidence
from offtarget.tasks.problem import Problem

PLACEHOLDER = "{prompt}"


def wrapper_from_rows(log: LogEvidence, problems: list[Problem]) -> str | None:
    """The most common wrapper of the prompts the log recorded, or ``None`` when it recorded none."""
    suite = {p.id: p.prompt for p in problems}
    seen: Counter[str] = Counter()
    for row in log.rows:
        prompt = suite.get(row.problem_id)
        if row.prompt is None or not prompt or prompt not in row.prompt:
            continue
        seen[row.prompt.replace(prompt, PLACEHOLDER, 1)] += 1
    return seen.most_common(1)[0][0] if seen else None


def wrapper_from_template(template: str) -> str | None:
    """A chat template (Jinja, as ``tokenizer_config.json`` holds it) applied to one user turn with the
    generation prompt, as transformers renders it; ``None`` when the template does not render."""
    try:
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        text = env.from_string(template).render(messages=[{"role": "user", "content": PLACEHOLDER}],
                                                add_generation_prompt=True, bos_token="", eos_token="")
    except Exception:  # noqa: BLE001 - a template this renderer cannot run: the format is unknown
        return None
    return text if PLACEHOLDER in text else None


def wrapper_of_checkpoint(path: str, chat_template: bool, trust_remote_code: bool = False) -> str | None:
    """How offtarget (or a harness using the tokenizer's template) prompts the checkpoint at ``path``."""
    from offtarget.models.loading import load_tokenizer
    from offtarget.models.sampling import render_prompt

    try:
        tok = load_tokenizer(path, trust_remote_code)
    except Exception:  # noqa: BLE001 - no readable tokenizer: the format is unknown, not an error here
        return None
    return render_prompt(tok, PLACEHOLDER, chat_template)[0]


def log_wrapper(log: LogEvidence, problems: list[Problem], checkpoint: str | None) -> str | None:
    """The wrapper a log's completions were sampled with, from what the log (or its checkpoint) records."""
    if log.kind != "inspect":  # Inspect records the raw input, not what the provider rendered
        return wrapper_from_rows(log, problems)
    if log.chat_template is not None:
        return wrapper_from_template(log.chat_template)
    if log.kind == "inspect" and checkpoint is not None:  # Inspect's hf provider uses the tokenizer's template
        template = _tokenizer_template(checkpoint)
        return wrapper_from_template(template) if template else None
    return None


def _tokenizer_template(path: str) -> str | None:
    from offtarget.models.loading import load_tokenizer

    try:
        template = getattr(load_tokenizer(path), "chat_template", None)
    except Exception:  # noqa: BLE001 - no readable tokenizer: the format is unknown
        return None
    return template if isinstance(template, str) else None


def describe(wrapper: str) -> str:
    """``'{prompt}' (the problem as is)`` or the wrapper shown with its control characters escaped."""
    shown = repr(wrapper)
    return f"{shown} (the problem as is)" if wrapper.strip() == PLACEHOLDER else f"{shown} (through a template)"


def prompt_format_notes(wrappers: dict[str, str | None]) -> list[str]:
    """A note for each pair of checkpoints whose known prompt formats differ."""
    known = {name: w for name, w in wrappers.items() if w is not None}
    names = list(known)
    notes = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if known[a].rstrip() != known[b].rstrip():
                notes.append(f"prompt format differs between {a} and {b}: {a} was prompted {describe(known[a])}, "
                             f"{b} {describe(known[b])}; a comparison of different prompt formats measures the "
                             "format, not the training: sample both the same way")
    return notes
