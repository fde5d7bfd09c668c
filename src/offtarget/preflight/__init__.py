"""Preflight: before spending RL compute, check the foothold, red-team the reward, audit the SFT model.

One concept per module:

- ``foothold``     per-prompt pass rates, tied-group share at group size G, verdict, window JSONL
- ``redteam``      adversarial completion patterns run against any TRL-signature reward
- ``sft_data``     the SFT data verified row by row; wrong rows grouped by slice and format
- ``sft_defects``  what SFT planted (accuracy drops, hallucination, overconfidence, skipped steps,
                   reproduced data errors), ranked by how surely RL would amplify it
- ``config`` / ``runner`` / ``commands``  the ``offtarget preflight`` command

Importing this package is cheap (no torch): the CLI imports ``commands`` at start-up.

    offtarget preflight --model models/lab/sft --reference models/lab/base --out runs/pf
"""
