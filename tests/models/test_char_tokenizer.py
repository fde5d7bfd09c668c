"""The lab tokenizer round-trips through save_pretrained/AutoTokenizer like a real checkpoint's."""

from transformers import AutoTokenizer

from offtarget.models.char_tokenizer import build_char_tokenizer


def test_roundtrip_and_bos(tmp_path):
    tok = build_char_tokenizer()
    tok.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    ids = loaded("27+58=").input_ids
    assert ids[0] == loaded.bos_token_id and len(ids) == 7
    text = "s 15 08 = 85<c>7"
    assert loaded.decode(loaded(text, add_special_tokens=False).input_ids) == text
    assert loaded.padding_side == "left"
