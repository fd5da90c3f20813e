"""Perturbation plug-ins (the contract and registry: :mod:`core.perturbations.base`).

Counterfactual swaps of protected attributes (gender words, first names, identity terms, dialect) and robustness edits
(typos, case, punctuation, tweet emoji/hashtags, contractions). Each module registers its class with
``@register``; this import line is the registration list and its order is the run order.
"""
from core.perturbations import gender, names, identity  # noqa: F401  counterfactual swaps (order: seeded stream)
from core.perturbations import dialect  # noqa: F401  SAE -> AAE rewrites (deterministic)
from core.perturbations import typos, case, punctuation, tweet, contractions  # noqa: F401  robustness
from core.perturbations.base import (ORIGINAL, REGISTRY, ROBUSTNESS, Family, Perturbation,  # noqa: F401
                                     RobustnessPerturbation, Variant, counterfactual, declared_attributes,
                                     register, robustness)
