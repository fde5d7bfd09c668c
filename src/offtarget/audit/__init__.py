"""The audit: checkpoints → stored generations → probes → paired comparisons → results.

The package is itself callable, so ``offtarget.audit(...)`` is the public Python entry point
(:func:`offtarget.audit.results.audit`) while ``offtarget.audit.config`` and friends stay
importable modules.

    >>> import offtarget
    >>> results = offtarget.audit({"base": "models/lab/base", "sft": "models/lab/sft"}, samples=4,
    ...                           problems=20, out="runs/api")
    >>> results.flagged("regression")
"""

from __future__ import annotations

import sys
import types


class _CallablePackage(types.ModuleType):
    def __call__(self, models, **settings):
        from offtarget.audit.results import audit

        return audit(models, **settings)


sys.modules[__name__].__class__ = _CallablePackage
