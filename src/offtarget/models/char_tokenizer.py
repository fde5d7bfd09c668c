"""A character-level tokenizer packaged as a Hugging Face ``PreTrainedTokenizerFast``.

The lab's tiny models use it so that they load, sample and train through exactly the code
path real checkpoints take (``AutoTokenizer.from_pretrained``, ``generate``, TRL).

    >>> tok = build_char_tokenizer()
    >>> tok("27+58=").input_ids      # <bos> then one id per character
"""

from __future__ import annotations

import string

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

SPECIAL = {"pad": "<pad>", "bos": "<bos>", "eos": "<eos>", "unk": "<unk>"}
ALPHABET = string.digits + string.ascii_lowercase + " +-*=?<>/.,:;|()[]_\n"
"""Every character the lab's corpora use; anything else maps to ``<unk>``."""


def build_char_tokenizer(alphabet: str = ALPHABET) -> PreTrainedTokenizerFast:
    """One token per character, ``<bos>`` prepended on encode, special tokens stripped on decode."""
    vocab = {tok: i for i, tok in enumerate(SPECIAL.values())}
    for ch in alphabet:
        vocab.setdefault(ch, len(vocab))
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=SPECIAL["unk"]))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    core.decoder = decoders.Fuse()
    core.post_processor = processors.TemplateProcessing(
        single=f"{SPECIAL['bos']} $A",
        pair=f"{SPECIAL['bos']} $A $B",
        special_tokens=[(SPECIAL["bos"], vocab[SPECIAL["bos"]])],
    )
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=SPECIAL["bos"],
        eos_token=SPECIAL["eos"],
        pad_token=SPECIAL["pad"],
        unk_token=SPECIAL["unk"],
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )
    return tok
