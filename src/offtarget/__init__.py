"""offtarget: see what post-training did to a model off target.

    offtarget audit --model base=PATH --model rl=PATH --suite arithmetic --out runs/x

    >>> import offtarget
    >>> results = offtarget.audit({"base": "PATH", "rl": "PATH"}, samples=16, out="runs/x")
    >>> results.flagged("regression")
"""

__version__ = "0.1.0"

from offtarget import audit  # the package is callable: offtarget.audit(models, **settings)

__all__ = ["__version__", "audit"]
