"""A byte-level BPE tokenizer with a ChatML chat template, trained locally with ``tokenizers``.

The chat lab model has the tokenizer shape of a real chat checkpoint (Qwen2/Qwen3): byte-level
BPE whose pre-tokenizer splits every digit into its own token (so arithmetic stays
learnable), special tokens ``<|endoftext|>`` (padding), ``<|im_start|>`` and ``<|im_end|>``
(end of turn, the EOS), no BOS, and a ChatML template::

    <|im_start|>user
    What is 27 + 58?<|im_end|>
    <|im_start|>assistant

It is saved as a ``PreTrainedTokenizerFast`` (``tokenizer.json`` + ``tokenizer_config.json`` +
``chat_template.jinja``), so ``AutoTokenizer.from_pretrained`` loads it and every engine that
reads a Hugging Face directory (transformers, vLLM, an OpenAI-compatible server) renders the
same prompt.

    >>> tok = train_chat_tokenizer(["What is 27 + 58?", "The answer is \\\\boxed{85}."], vocab_size=300)
    >>> tok.decode(tok("The answer is \\\\boxed{85}.").input_ids)
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

PAD, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = (PAD, IM_START, IM_END)
PRETOKENIZE_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
"""Qwen2's split: words with their leading space, single digits, punctuation runs, newlines."""
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
"""ChatML, as Qwen writes it (without Qwen's default system message)."""


def train_chat_tokenizer(texts: Iterable[str], vocab_size: int = 512) -> PreTrainedTokenizerFast:
    """Train byte-level BPE on ``texts``: 256 byte tokens, 3 special tokens, merges up to ``vocab_size``.

    Deterministic: the same texts give the same vocabulary and merges.
    """
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        min_frequency=2,
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token=IM_END,
        pad_token=PAD,
        additional_special_tokens=[IM_START],
        padding_side="left",
        clean_up_tokenization_spaces=False,
        model_max_length=4096,
    )
    tok.chat_template = CHAT_TEMPLATE
    return tok


__all__ = ["CHAT_TEMPLATE", "IM_END", "IM_START", "PAD", "SPECIAL_TOKENS", "train_chat_tokenizer"]
