"""Weight-norm folding: w = g * v / ||v|| computed once, so the export holds plain weights.

Amphion trains with the legacy torch.nn.utils.weight_norm (a forward pre-hook recomputing the
weight from weight_g/weight_v on every call) and never removes it; newer torch expresses the same
thing as a parametrization. Both are folded here; other hooks are left alone.
"""

from __future__ import annotations

import torch
from torch.nn.utils.weight_norm import WeightNorm


def _legacy_hook_names(module: torch.nn.Module) -> list[str]:
    return [hook.name for hook in module._forward_pre_hooks.values()
            if isinstance(hook, WeightNorm)]


def fold_weight_norm(model: torch.nn.Module) -> int:
    """Folds every weight-normed parameter of model in place; returns how many were folded."""
    folded = 0
    for module in model.modules():
        for name in _legacy_hook_names(module):
            torch.nn.utils.remove_weight_norm(module, name)
            folded += 1
        parametrizations = getattr(module, "parametrizations", None)
        if parametrizations is not None:
            from torch.nn.utils import parametrize

            for name in list(parametrizations.keys()):
                # leave_parametrized=True keeps the computed weight (the folded value).
                parametrize.remove_parametrizations(module, name, leave_parametrized=True)
                folded += 1
    return folded


def count_weight_norm(model: torch.nn.Module) -> int:
    count = 0
    for module in model.modules():
        count += len(_legacy_hook_names(module))
        parametrizations = getattr(module, "parametrizations", None)
        if parametrizations is not None:
            count += len(parametrizations)
    return count
