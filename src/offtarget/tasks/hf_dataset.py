"""Hugging Face datasets as suites: ``hf:NAME_OR_PATH`` with a column mapping.

Anything ``datasets.load_dataset`` opens is a suite — a hub name, a local folder of data files,
a builder with ``data_files`` — and so is a folder written by ``Dataset.save_to_disk``
(opened with ``load_from_disk``). Rows become problems graded by offtarget's JSONL verifier
(:mod:`offtarget.tasks.jsonl`: ``\\boxed{}``, ``Answer:`` line or last number, compared with
math-verify, or exactly with ``answer_type=exact``)::

    offtarget audit --suite "hf:openai/gsm8k?config=main" ...          # then strip '#### ' (below)
    offtarget audit --suite "hf:json?data_files=evals/qa.jsonl&answer_type=exact" ...
    offtarget audit --suite "hf:runs/saved_ds?splits=test:validation,ood:test_hard" ...
    offtarget audit --suite gsm8k.yaml ...                             # the same options as YAML keys

where ``gsm8k.yaml`` is::

    suite: hf:openai/gsm8k
    config: main
    answer_regex: "####\\\\s*(.+)"      # the final answer after gsm8k's '#### '

Options (suite-string ``?key=value&...`` or YAML keys):

=================  ===================================================================================
``config``         the dataset's configuration name (``load_dataset(name, config)``), e.g. ``main``
``data_files``     files for a builder (``hf:json``, ``hf:parquet``, ``hf:csv``); YAML also takes a
                   mapping split → file(s)
``revision``       a hub revision (commit, tag) to pin what an audit read
``prompt``         prompt column (default: the first of prompt, question, problem, input)
``template``       instead of ``prompt``: a Python format string over the row's columns,
                   e.g. ``"{question}\\nChoices: {choices}"``
``answer``         answer column (default: the first of answer, final_answer, target, label);
                   a null answer marks an item whose right response is to abstain
``answer_regex``   a regex searched in the answer; group 1 (or the whole match) is the reference
``answer_type``    ``math`` (default, math-verify) or ``exact`` (string equality)
``id``             id column (default: the row index); ids are prefixed ``NAME/HF_SPLIT/``
``slice``          column whose value is each problem's slice (default: ``all``)
``splits``         offtarget split ← dataset split, ``test:validation,ood:test_hard`` (YAML: a
                   mapping). Default: a dataset with one split (e.g. one ``data_files``, which
                   ``datasets`` calls ``train``) is ``test``; else ``train``, ``test`` and ``ood``
                   from the splits of those names
=================  ===================================================================================

A missing column is a one-line error naming it and the columns that exist. Nothing is
downloaded unless ``NAME`` is a hub dataset that is not in the local cache.

    >>> from offtarget.tasks import get_task
    >>> task = get_task("hf:json?data_files=qa.jsonl&prompt=q&answer=a")  # doctest: +SKIP
    >>> task.problems("test", 5)  # doctest: +SKIP
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

from offtarget.errors import OfftargetError
from offtarget.tasks.jsonl import JsonlTask
from offtarget.tasks.problem import SPLITS, Problem
from offtarget.tasks.registry import register_task

PROMPT_COLUMNS = ("prompt", "question", "problem", "input")
"""Prompt column candidates, in order, when ``prompt`` and ``template`` are not given."""
ANSWER_COLUMNS = ("answer", "final_answer", "target", "label")
"""Answer column candidates, in order, when ``answer`` is not given."""


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _split_map(where: str, splits: Any, available: list[str]) -> dict[str, str]:
    if splits is None:
        if len(available) == 1:  # one split (a single data file loads as `train`): what is audited
            return {"test": available[0]}
        found = {s: s for s in SPLITS if s in available}
        if not found:
            raise OfftargetError(
                f"{where}: no split named train/test/ood among {available}; "
                "map them with splits=test:SPLIT (offtarget split:dataset split)"
            )
        return found
    if isinstance(splits, str):
        pairs = [p.strip() for p in splits.split(",") if p.strip()]
        mapping = {}
        for pair in pairs:
            ours, sep, theirs = pair.partition(":")
            if not sep or not ours or not theirs:
                raise OfftargetError(f"{where}: splits={splits!r}: write OFFTARGET_SPLIT:DATASET_SPLIT, comma-separated")
            mapping[ours.strip()] = theirs.strip()
    elif isinstance(splits, dict):
        mapping = {str(k): str(v) for k, v in splits.items()}
    else:
        raise OfftargetError(f"{where}: splits must be 'test:SPLIT,...' or a mapping, got {type(splits).__name__}")
    for ours, theirs in mapping.items():
        if ours not in SPLITS:
            raise OfftargetError(f"{where}: splits maps to {ours!r}; offtarget's splits are {list(SPLITS)}")
        if theirs not in available:
            raise OfftargetError(f"{where}: the dataset has no split {theirs!r}; its splits are {available}")
    return mapping


def _load(where: str, name: str, config: str | None, data_files: Any, revision: str | None):
    """A DatasetDict for ``name`` (``load_from_disk`` for a saved folder, else ``load_dataset``)."""
    import datasets

    path = Path(name)
    try:
        if path.is_dir() and ((path / "dataset_dict.json").is_file() or (path / "state.json").is_file()):
            loaded = datasets.load_from_disk(str(path))
        else:
            kwargs: dict[str, Any] = {}
            if data_files is not None:
                kwargs["data_files"] = data_files
            if revision is not None:
                kwargs["revision"] = revision
            loaded = datasets.load_dataset(name, config, **kwargs)
    except OfftargetError:
        raise
    except Exception as e:  # noqa: BLE001 - datasets raises many kinds; the user needs one line
        raise OfftargetError(f"{where}: cannot load the dataset ({type(e).__name__}: {_first_line(e)})") from None
    if isinstance(loaded, datasets.Dataset):
        loaded = datasets.DatasetDict({"train": loaded})
    return loaded


def _column(where: str, columns: list[str], option: str, given: str | None, candidates: tuple[str, ...]) -> str:
    if given is not None:
        if given not in columns:
            raise OfftargetError(f"{where}: column {given!r} ({option}=) does not exist; columns: {columns}")
        return given
    for c in candidates:
        if c in columns:
            return c
    raise OfftargetError(
        f"{where}: no {option} column among {list(candidates)}; columns: {columns}; set {option}=COLUMN"
    )


def _reference(where: str, value: Any, regex: re.Pattern | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise OfftargetError(f"{where}: answer is a {type(value).__name__}; pick a column of strings or numbers")
    text = str(value)
    if regex is None:
        return text.strip()
    m = regex.search(text)
    if m is None:
        raise OfftargetError(f"{where}: answer_regex {regex.pattern!r} does not match {text[-80:]!r}")
    return (m.group(1) if regex.groups else m.group(0)).strip()


@register_task("hf", hint="hf:NAME")
def hf_dataset_suite(
    name: str | None = None,
    *,
    config: str | None = None,
    data_files: Any = None,
    revision: str | None = None,
    prompt: str | None = None,
    template: str | None = None,
    answer: str | None = None,
    answer_regex: str | None = None,
    answer_type: str = "math",
    id: str | None = None,
    slice: str | None = None,
    splits: Any = None,
) -> JsonlTask:
    """``hf:NAME_OR_PATH?option=value&...``: a Hugging Face dataset as a suite (module docstring)."""
    if not name:
        raise OfftargetError("suite hf: name a dataset, e.g. hf:openai/gsm8k or hf:json?data_files=FILE")
    where = f"suite hf:{name}"
    from offtarget.tasks.answers import ANSWER_TYPES

    if answer_type not in ANSWER_TYPES:
        raise OfftargetError(f"{where}: answer_type={answer_type!r}; use one of {', '.join(ANSWER_TYPES)}")
    if prompt is not None and template is not None:
        raise OfftargetError(f"{where}: give prompt= or template=, not both")
    try:
        regex = re.compile(answer_regex) if answer_regex is not None else None
    except re.error as e:
        raise OfftargetError(f"{where}: answer_regex {answer_regex!r} is not a valid regex ({e})") from None
    if template is not None:
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(template) if f]
        except ValueError as e:
            raise OfftargetError(f"{where}: template {template!r} is not a format string ({e})") from None
    loaded = _load(where, name, config, data_files, revision)
    mapping = _split_map(where, splits, list(loaded))
    items: list[Problem] = []
    seen: set[str] = set()
    for ours, theirs in mapping.items():
        ds = loaded[theirs]
        columns = list(ds.column_names)
        at = f"{where} split {theirs!r}"
        if template is not None:
            for f in fields:
                if f not in columns:
                    raise OfftargetError(f"{at}: template column {f!r} does not exist; columns: {columns}")
        else:
            prompt_col = _column(at, columns, "prompt", prompt, PROMPT_COLUMNS)
        answer_col = _column(at, columns, "answer", answer, ANSWER_COLUMNS)
        id_col = _column(at, columns, "id", id, ()) if id is not None else None
        slice_col = _column(at, columns, "slice", slice, ()) if slice is not None else None
        for i, row in enumerate(ds):
            text = template.format(**row) if template is not None else row[prompt_col]
            if not isinstance(text, str) or not text:
                raise OfftargetError(f"{at} row {i}: the prompt is empty or not a string")
            ref = _reference(f"{at} row {i}", row[answer_col], regex)
            pid = f"{name}/{theirs}/{row[id_col] if id_col else i}"
            if pid in seen:
                raise OfftargetError(f"{at} row {i}: duplicate id {pid!r}; pick a unique id= column")
            seen.add(pid)
            items.append(Problem(
                id=pid, prompt=text, answer=ref, split=ours,
                slice=str(row[slice_col]) if slice_col else "all",
                should_abstain=ref is None,
                metadata={"answer_type": answer_type, "hf": {"dataset": name, "split": theirs, "row": i}},
            ))
    if not items:
        raise OfftargetError(f"{where}: the mapped splits {mapping} hold no rows")
    return JsonlTask(name=f"hf:{name}", items=items)
