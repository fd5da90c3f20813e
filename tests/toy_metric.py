"""A toy metric family in its own file, as a plug-in author would write one: the decorator is the
registration (tests/test_metric_registry.py adds this module to ``FAMILY_MODULES``: the one extra line)."""
from audit.records import Metric, MetricInfo, Scored, metric_family, prob_matrix


@metric_family("toy", "Toy confidence", "How sure the model is, whatever the group: a plug-in example.", {
    "mean_confidence": MetricInfo("toy", "rate", "mean over cases of max_c p_c", "a test fixture",
                                  words="how sure the model is on average"),
}, per_slice=False)
def toy_confidence(scored: Scored) -> list[Metric]:
    out = []
    for suite in scored.frame["suite"].unique():
        top = prob_matrix(scored.frame[scored.frame["suite"] == suite], scored.labels).max(axis=1)
        out.append(Metric("mean_confidence", "toy", suite, "all", float(top.mean()), len(top), n_min=len(top)))
    return out
