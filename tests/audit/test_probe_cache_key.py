"""A cached probe result is reused only for the same inputs: settings, checkpoints, problems, data files."""

from __future__ import annotations

from types import SimpleNamespace

from offtarget.audit.config import AuditConfig
from offtarget.audit.runner import probe_cache_key
from offtarget.tasks.problem import Problem


def _evidences(prompt="What is 2 + 2?"):
    problems = [Problem("p1", prompt, "4"), Problem("p2", "What is 3 + 3?", "6")]
    return {"base": SimpleNamespace(fingerprint="f0", problems=problems),
            "rl": SimpleNamespace(fingerprint="f1", problems=problems)}


def test_the_key_follows_the_content_of_data_files_and_problems(tmp_path):
    patterns = tmp_path / "planning.txt"
    patterns.write_text("\\bwait\\b\n")
    cfg = AuditConfig(planning_patterns=str(patterns))
    first = probe_cache_key(cfg, "two_phase_entropy", _evidences())
    assert probe_cache_key(cfg, "two_phase_entropy", _evidences()) == first  # same inputs, same key
    patterns.write_text("\\bso\\b\n")  # same path, other content
    edited = probe_cache_key(cfg, "two_phase_entropy", _evidences())
    assert edited != first
    assert probe_cache_key(cfg, "two_phase_entropy", _evidences("What is 2+2?")) != edited  # a reworded problem
    # the output directory and store are not inputs
    assert probe_cache_key(AuditConfig(planning_patterns=str(patterns), out="elsewhere"), "two_phase_entropy",
                           _evidences()) == edited


def test_a_probe_that_reads_another_is_keyed_by_whether_that_one_ran():
    from offtarget.probes.registry import PROBES

    assert PROBES.get("plasticity").reads == ("kl",)
    cfg = AuditConfig()
    alone = probe_cache_key(cfg, "plasticity", _evidences())
    assert probe_cache_key(cfg, "plasticity", _evidences(), []) == alone  # nothing read: the key of old
    assert probe_cache_key(cfg, "plasticity", _evidences(), ["kl"]) != alone  # kl beside it: computed afresh
