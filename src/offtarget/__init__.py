"""offtarget: see what post-training did to a model off target.

    offtarget audit --model base=PATH --model rl=PATH --suite arithmetic --out runs/x
"""

__version__ = "0.1.0"
