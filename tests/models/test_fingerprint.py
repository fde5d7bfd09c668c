"""The checkpoint fingerprint covers every file that changes outputs; the tokenizer fingerprint only
how text becomes tokens."""

import json
import shutil

import pytest

from offtarget.models.loading import fingerprint, tokenizer_fingerprint

MODEL = "models/lab/sft"


@pytest.fixture
def copy(tmp_path):
    d = tmp_path / "ckpt"
    shutil.copytree(MODEL, d)
    return d


def _edit_json(path, **changes):
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data, indent=4))


def test_copies_and_resaves_keep_the_fingerprint(copy):
    assert fingerprint(copy) == fingerprint(MODEL)
    assert fingerprint(copy, full=True) == fingerprint(MODEL, full=True) != fingerprint(MODEL)
    # a re-save by another transformers version, or a file that does not change outputs
    _edit_json(copy / "config.json", transformers_version="9.9.9")
    _edit_json(copy / "generation_config.json", transformers_version="9.9.9")
    (copy / "README.md").write_text("notes")
    (copy / "training_args.bin").write_bytes(b"\0" * 100)
    assert fingerprint(copy) == fingerprint(MODEL)


@pytest.mark.parametrize("change", [
    "config", "generation_config", "tokenizer_json", "tokenizer_config", "template_in_config", "template_file",
    "special_tokens_map", "extra_template", "remote_code", "weights",
])
def test_every_output_changing_file_changes_the_fingerprint(copy, change):
    before, tok_before = fingerprint(copy), tokenizer_fingerprint(copy)
    if change == "config":
        _edit_json(copy / "config.json", rms_norm_eps=1e-5)
    elif change == "generation_config":
        _edit_json(copy / "generation_config.json", top_p=0.8)
    elif change == "tokenizer_json":
        tj = json.loads((copy / "tokenizer.json").read_text())
        vocab = tj["model"]["vocab"]
        vocab["x"], vocab["y"] = vocab["y"], vocab["x"]
        (copy / "tokenizer.json").write_text(json.dumps(tj))
    elif change == "tokenizer_config":
        _edit_json(copy / "tokenizer_config.json", eos_token="<pad>")
    elif change == "template_in_config":
        _edit_json(copy / "tokenizer_config.json", chat_template="q: {{ messages[0]['content'] }}")
    elif change == "template_file":
        (copy / "chat_template.jinja").write_text("q: {{ messages[0]['content'] }}")
    elif change == "special_tokens_map":
        (copy / "special_tokens_map.json").write_text(json.dumps({"eos_token": "<eos>"}))
    elif change == "extra_template":
        (copy / "additional_chat_templates").mkdir()
        (copy / "additional_chat_templates" / "tool_use.jinja").write_text("{{ messages }}")
    elif change == "remote_code":
        (copy / "modeling_custom.py").write_text("# shipped code")
    elif change == "weights":
        _flip_one_byte_in_every_tensor(copy / "model.safetensors")
    assert fingerprint(copy) != before
    # only a changed vocabulary changes the tokenizer fingerprint; templates and special-token roles do not
    assert (tokenizer_fingerprint(copy) != tok_before) == (change == "tokenizer_json")


def _flip_one_byte_in_every_tensor(path):
    """Change one byte in the middle of each tensor (what any training of it does, and more)."""
    raw = bytearray(path.read_bytes())
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        i = 8 + n + (start + end) // 2
        raw[i] ^= 0x01
    path.write_bytes(bytes(raw))


def test_full_fingerprint_sees_an_edit_the_sparse_read_skips(copy):
    """One byte at a quarter of one tensor lies outside the sparse windows: only ``full`` sees it."""
    sparse, full = fingerprint(copy), fingerprint(copy, full=True)
    path = copy / "model.safetensors"
    raw = bytearray(path.read_bytes())
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    _, meta = max(((k, v) for k, v in header.items() if k != "__metadata__"),
                  key=lambda kv: kv[1]["data_offsets"][1] - kv[1]["data_offsets"][0])
    start, end = meta["data_offsets"]
    assert end - start > 4 * 4096 * 3  # big enough to have bytes no window reads
    raw[8 + n + start + (end - start) // 4] ^= 0x01
    path.write_bytes(bytes(raw))
    assert fingerprint(copy) == sparse
    assert fingerprint(copy, full=True) != full


def test_full_fingerprint_follows_every_weight_byte(copy):
    other = copy.parent / "other"
    shutil.copytree(copy, other)
    assert fingerprint(other, full=True) == fingerprint(copy, full=True)
    raw = bytearray((other / "model.safetensors").read_bytes())
    raw[len(raw) // 3] ^= 0xFF
    (other / "model.safetensors").write_bytes(bytes(raw))
    assert fingerprint(other, full=True) != fingerprint(copy, full=True)


def test_tokenizer_fingerprint_is_shared_by_base_and_sft():
    assert tokenizer_fingerprint("models/lab/base") == tokenizer_fingerprint(MODEL) is not None
    assert fingerprint("models/lab/base") != fingerprint(MODEL)


def test_no_tokenizer_files_means_no_tokenizer_fingerprint(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    assert tokenizer_fingerprint(tmp_path) is None
