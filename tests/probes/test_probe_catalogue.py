"""Every metric a probe reports is a catalogue metric, with the catalogue's direction."""

from offtarget.metrics import get


def test_every_reported_metric_name_is_in_the_catalogue(kit):
    """Run every probe that needs no model on evidence with abstentions, formats and confidences:
    each metric row it reports is a catalogue metric with the row's direction."""
    from offtarget.probes import get_probe, list_probes

    problems = ([kit.answerable(a, 3) for a in range(11, 19)] + [kit.unanswerable(i) for i in range(6)]
                + [kit.answerable(a, 4, split="ood") for a in range(21, 27)])
    texts = [[f"d {p.answer}<c>7", "?", f"r {(p.answer or '12')[::-1]}", "junk"] for p in problems]
    other = [[f"d {p.answer}", "d 1<c>9", "?", f"d {p.answer}"] for p in problems]
    ctx = kit.context(kit.evidence("a", problems, texts, greedy=[t[0] for t in texts]),
                      kit.evidence("b", problems, other, greedy=[t[0] for t in other]))
    seen = set()
    for name in list_probes():
        info = get_probe(name)
        if info.needs_models or name == "calibration":  # calibration's likelihood half loads a tokenizer
            continue
        if info.variants is not None:  # reads extra prompts the audit samples (framing): tested on its own
            continue
        for m in info.run(ctx).metrics:
            assert get(m.metric).higher_is_better == m.higher_is_better, m.metric
            seen.add(m.metric)
    assert {"accuracy", "abstention_recall", "format_entropy", "distinct_2", "ood_gap"} <= seen
