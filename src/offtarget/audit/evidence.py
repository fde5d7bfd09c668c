"""Sample every checkpoint once into the run store and read back verdicts for the probes.

Data flows one way: problems → generations (stored once) → verdicts → probes. Checkpoints
are loaded one at a time and released, so an audit of several 7B models needs the memory of
one.

    >>> evidence = collect(cfg, task, problems, console)
    >>> evidence["sft"].correct.mean()
"""

from __future__ import annotations

import gc

import torch

from offtarget.audit.config import AuditConfig
from offtarget.evidence.checkpoint import Evidence
from offtarget.models.engines import close_engine, engine_for, open_engine, store_key
from offtarget.models.generation_defaults import from_generation_config, read_generation_config
from offtarget.models.loading import fingerprint, tokenizer_fingerprint
from offtarget.models.sampling import SamplingParams
from offtarget.store import GenerationStore, fill, plan
from offtarget.tasks.problem import Problem, Task

__all__ = ["Evidence", "checkpoint_sampling", "collect", "sampling_params"]


def sampling_params(cfg: AuditConfig) -> tuple[SamplingParams, SamplingParams | None]:
    """The stated sampling of an audit (sampled, greedy or None), exactly as configured."""
    sampled = SamplingParams(
        n=cfg.samples, temperature=cfg.temperature, top_p=cfg.top_p, top_k=cfg.top_k, min_p=cfg.min_p,
        repetition_penalty=cfg.repetition_penalty, max_new_tokens=cfg.max_new_tokens,
        chat_template=cfg.chat_template,
    )
    greedy = (
        SamplingParams(n=1, temperature=0.0, repetition_penalty=cfg.repetition_penalty,
                       max_new_tokens=cfg.max_new_tokens, chat_template=cfg.chat_template)
        if cfg.greedy
        else None
    )
    return sampled, greedy


def checkpoint_sampling(
    cfg: AuditConfig, path: str, sampled: SamplingParams, greedy: SamplingParams | None
) -> tuple[SamplingParams, SamplingParams | None, dict]:
    """What checkpoint ``path`` is sampled with: the stated parameters, or with
    ``use_generation_config`` its generation_config.json values put in; and the record
    results.json keeps (effective parameters, which came from generation_config, which of its
    settings were not applied)."""
    used: dict[str, dict] = {}
    ignored: dict = {}
    if cfg.use_generation_config and _is_dir(path):
        gen = read_generation_config(path)
        sampled, used["sampled"], ignored = from_generation_config(sampled, gen)
        if greedy is not None:
            greedy, used["greedy"], _ = from_generation_config(greedy, gen)
    record = {"sampled": sampled.describe(), "greedy": greedy.describe() if greedy else None,
              "use_generation_config": cfg.use_generation_config,
              "from_generation_config": {k: v for k, v in used.items() if v},
              "ignored_generation_config": ignored}
    return sampled, greedy, record


def collect(cfg: AuditConfig, task: Task, problems: list[Problem], store: GenerationStore, progress=None,
            tokenizers: dict | None = None) -> dict[str, Evidence]:
    """Fill the store for every checkpoint (only what is missing) and build :class:`Evidence`.

    ``tokenizers`` (by checkpoint name) are reused instead of loading them again."""
    import time

    sampled, greedy = sampling_params(cfg)
    options = cfg.engine_options()
    out: dict[str, Evidence] = {}
    # a checkpoint given as an eval log (lmeval:/inspect:/completions:) is imported, not sampled
    from offtarget.evidence import importer, parse_model_spec, read_log

    specs = {name: parse_model_spec(path) for name, path in cfg.models.items()}
    logs = {name: read_log(s.kind, s.path, name) for name, s in specs.items() if s.is_log}
    n_keep, run_notes = sampled.n, []
    if logs:
        direct = [name for name, s in specs.items() if not s.is_log]
        problems, n_keep, run_notes = importer.align(problems, logs, sampled.n if direct else None)
        settings = {name: log.sampling for name, log in logs.items()}
        settings.update({name: importer.direct_sampling(cfg) for name in direct})
        run_notes += importer.sampling_notes(settings)
        run_notes += _prompt_format_notes(cfg, specs, logs, problems)
        if greedy is not None:
            greedy = None
            run_notes.append("no greedy decoding: a log holds sampled completions only, so greedy accuracy is "
                             "not compared")
        if progress is not None:
            for note in run_notes:
                progress.console.print(f"[yellow]note:[/yellow] {note}")
    for name, path in cfg.models.items():
        if name in logs:
            out[name] = importer.log_evidence(name, specs[name], logs[name], task, problems, n_keep, store, cfg,
                                              run_notes)
            continue
        t0 = time.time()
        engine_name = engine_for(options, name)
        content = fingerprint(path, full=cfg.full_fingerprint) if _is_dir(path) else None
        fp = store_key(content, engine_name) if content is not None else None
        c_sampled, c_greedy, c_record = checkpoint_sampling(cfg, path, sampled, greedy)
        todo = 0
        if fp is not None:
            for params in filter(None, (c_sampled, c_greedy)):
                todo += sum(k * len(g) for k, g in plan(store, fp, problems, params).items())
        generated = 0
        if fp is None or todo:
            engine, opened = open_engine(options, name, path, known_fingerprint=content,
                                         tokenizer=(tokenizers or {}).get(name))
            fp = fp or store_key(opened, engine_name)  # ours honours full_fingerprint
            task_id = progress.add_task(f"sampling {name}", total=todo) if progress else None
            for params in filter(None, (c_sampled, c_greedy)):
                generated += fill(
                    store, engine, fp, problems, params, seed=cfg.seed, max_batch_sequences=cfg.batch_sequences,
                    on_batch=(lambda k, t=task_id: progress.advance(t, k)) if progress else None,
                )
            close_engine(engine)
            del engine
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        ids = [p.store_key for p in problems]
        got = store.get(fp, c_sampled.key(), ids, n_keep)
        samples = [got[i] for i in ids]
        verdicts = [[task.verify(p, s.text) for s in row] for p, row in zip(problems, samples)]
        g_samples = g_verdicts = None
        if c_greedy is not None:
            g = store.get(fp, c_greedy.key(), ids, 1)
            g_samples = [g[i][0] for i in ids]
            g_verdicts = [task.verify(p, s.text) for p, s in zip(problems, g_samples)]
        out[name] = Evidence(name, path, fp, problems, samples, verdicts, g_samples, g_verdicts,
                             seconds=time.time() - t0, generated=generated,
                             tokenizer_fingerprint=tokenizer_fingerprint(path), sampling=c_record)
    return out


def _prompt_format_notes(cfg: AuditConfig, specs: dict, logs: dict, problems: list[Problem]) -> list[str]:
    """Notes for checkpoints whose evidence was prompted in different formats (as each log records)."""
    from offtarget.evidence.prompt_format import log_wrapper, prompt_format_notes, wrapper_of_checkpoint

    wrappers = {}
    for name, spec in specs.items():
        if name in logs:
            wrappers[name] = log_wrapper(logs[name], problems, spec.checkpoint)
        elif _is_dir(spec.path):
            wrappers[name] = wrapper_of_checkpoint(spec.path, cfg.chat_template, cfg.trust_remote_code)
        else:
            wrappers[name] = None
    return prompt_format_notes(wrappers)


def _is_dir(path: str) -> bool:
    from pathlib import Path

    return Path(path).is_dir() and (Path(path) / "config.json").exists()
