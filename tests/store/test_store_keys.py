"""Generations are keyed by everything that changes them: re-auditing into the same run directory
after changing only a checkpoint's chat template re-generates, with the new prompts."""

import json
import shutil

import pytest
import yaml
from typer.testing import CliRunner

from offtarget.cli import app
from offtarget.store import GenerationStore

MODEL = "models/lab/sft"
TEMPLATE = "{{ bos_token }}q: {{ messages[0]['content'] }}\na:"


def _audit(cfg_path, out):
    res = CliRunner().invoke(app, ["audit", "--config", str(cfg_path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return json.loads((out / "results.json").read_text())


def _completions(results):
    return {e["problem"]: e["completion"] for e in results["examples"]["m"]}


@pytest.mark.slow
@pytest.mark.parametrize("where", ["tokenizer_config", "chat_template.jinja"])
def test_changed_chat_template_regenerates(tmp_path, where):
    ckpt, out = tmp_path / "m", tmp_path / "run"
    shutil.copytree(MODEL, ckpt)
    cfg = tmp_path / "audit.yaml"
    cfg.write_text(yaml.safe_dump({"models": {"m": str(ckpt)}, "samples": 2, "problems": 6,
                                   "probes": ["accuracy"], "bootstrap": 50}))
    first = _audit(cfg, out)
    assert first["checkpoints"][0]["generated"] > 0
    assert _audit(cfg, out)["checkpoints"][0]["generated"] == 0  # nothing changed: all reused

    if where == "tokenizer_config":
        tc = json.loads((ckpt / "tokenizer_config.json").read_text())
        (ckpt / "tokenizer_config.json").write_text(json.dumps({**tc, "chat_template": TEMPLATE}))
    else:
        (ckpt / "chat_template.jinja").write_text(TEMPLATE)
    second = _audit(cfg, out)
    c1, c2 = first["checkpoints"][0], second["checkpoints"][0]
    assert c2["fingerprint"] != c1["fingerprint"]
    assert c2["tokenizer_fingerprint"] == c1["tokenizer_fingerprint"]  # same vocabulary
    assert c2["generated"] == c1["generated"]  # everything again, under the new fingerprint
    rendered = [e["rendered_prompt"] for e in second["examples"]["m"]]
    assert all(r.startswith("<bos>q: ") and r.endswith("\na:") for r in rendered)
    assert [e["rendered_prompt"] for e in first["examples"]["m"]] != rendered
    assert _completions(first) != _completions(second)
    store = GenerationStore(out / "generations.sqlite")
    try:
        keys = {r[0] for r in store.db.execute("SELECT DISTINCT checkpoint FROM generations")}
    finally:
        store.close()
    assert keys == {c1["fingerprint"], c2["fingerprint"]}
