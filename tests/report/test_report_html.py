"""The HTML report: one offline file, an SVG per plot with data, escaped model text, graceful gaps."""

from __future__ import annotations

import re

import pytest

from offtarget.report.html import render_html, verdict_class

PLOT_KEYS = ("passk_curves", "reliability", "reliability_likelihood", "entropy_hist", "format_shares", "id_ood",
             "layer_change", "kl_by_group")


def _figure(html: str, probe: str, key: str) -> str:
    m = re.search(rf'<figure id="probe-\d+-{probe}-{key}">(.*?)</figure>', html, re.DOTALL)
    return m.group(1) if m else ""


def test_html_is_one_self_contained_file(full_html):
    html = full_html
    assert html.lstrip().startswith("<!doctype html>") and html.rstrip().endswith("</html>")
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"<(script|link|iframe|img|object|embed)\b", html, re.IGNORECASE)
    assert not re.search(r"\b(src|href)\s*=\s*(?![\"']?#)", html)  # only in-page anchors
    assert "@import" not in html and "@font-face" not in html
    assert not re.search(r"url\((?!#)", html)  # clip paths point inside the SVG


@pytest.fixture(scope="module")
def full_html(make_results) -> str:
    """The full fixture rendered once (a render draws nine plots: about a second)."""
    return render_html(make_results())


@pytest.mark.parametrize("key", PLOT_KEYS)
def test_every_plot_with_data_is_an_inline_svg(full_html, make_results, key):
    probe = next(p["probe"] for p in make_results()["probes"] if key in p["plots"])
    fig = _figure(full_html, probe, key)
    assert fig.count("<svg") == 1
    assert "<text" in fig  # svg.fonttype none: labels stay text ...
    assert "DejaVu" not in fig.split("<text")[0]  # ... and no glyph outlines are embedded


def test_no_plot_data_no_figure(results):
    for p in results["probes"]:
        p["plots"] = {k: ({} if k == "passk_curves" else v) for k, v in p["plots"].items() if k != "entropy_hist"}
    html = render_html(results)
    assert _figure(html, "diversity", "entropy_hist") == "" and _figure(html, "passk", "passk_curves") == ""
    assert html.count("<svg") == len(PLOT_KEYS) - 2 + 1 + 1  # + preflight histogram + claims plot


def test_svg_count_matches_the_data(full_html):
    assert full_html.count("<svg") == len(PLOT_KEYS) + 2  # + the preflight histogram and the claims plot


def test_model_output_is_escaped(full_html):
    html = full_html
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # examples and the preflight row


def test_hostile_checkpoint_name_is_escaped_in_tables_and_plots(results):
    evil = '<img src=x onerror="alert(1)">$x$'
    for c in results["checkpoints"]:
        if c["name"] == "rl":
            c["name"] = evil
    for p in results["probes"]:
        for key in ("passk_curves", "entropy_hist"):
            for group in p["plots"].get(key, {}).values():
                group[evil] = group.pop("rl")
    html = render_html(results)
    assert "<img" not in html
    assert "&lt;img src=x" in html


def test_flag_marks_carry_p_adjusted_in_the_title(full_html):
    html = full_html
    cell = re.search(r'<td class="num flag-regression" title="([^"]*)">[^<]*<span class="ci">[^<]*</span> '
                     r'<span class="mark">▼</span>', html)
    assert cell and "p_adj = " in cell.group(1) and "rl − base" in cell.group(1)
    assert html.count('<span class="mark">▲</span>') >= 1


def test_probes_all_missing_or_errored_still_render(results):
    results["probes"] = []
    results["headline"], results["routing"] = [], []
    html = render_html(results)
    assert "All changes" in html and "No flagged regressions" in html and "<svg" in html  # preflight, claims
    results["probes"] = [{"probe": n, "description": "", "source": "", "metrics": [], "comparisons": [],
                          "plots": {}, "extras": {}, "notes": [], "seconds": 0.0, "error": f"{n} broke <b>"}
                         for n in ("calibration", "kl")]
    del results["preflight"], results["claims"], results["examples"]
    html = render_html(results)
    assert "<svg" not in html
    assert html.count('class="error"') == 2 and "kl broke &lt;b&gt;" in html


def test_minimal_results_render(results):
    minimal = {k: results[k] for k in ("schema_version", "kind", "reference", "checkpoints", "probes",
                                       "headline", "routing", "config")}
    html = render_html(minimal)
    assert 'id="examples"' not in html and 'id="claims"' not in html and 'id="preflight"' not in html


def test_broken_or_unknown_plot_data_is_reported_not_fatal(results):
    passk = next(p for p in results["probes"] if p["probe"] == "passk")
    passk["plots"] = {"passk_curves": {"test": "not a curve"}, "mystery_plot": {"a": 1}}
    html = render_html(results)
    assert "passk_curves (could not be drawn: AttributeError" in html
    assert "mystery_plot" in html


def test_claims_and_preflight_sections(full_html):
    html = full_html
    claims = html[html.index('id="claims"'):html.index("</details>\n", html.index('id="claims"'))]
    assert "RL narrows pass@k" in claims and "arXiv 2504.13837" in claims
    assert '<span class="badge bad">not reproduced</span>' in claims
    assert '<span class="badge good">reproduced</span>' in claims
    assert "[-0.040, 0.000]" in claims  # the interval, from low/high
    pre = html[html.index('<section id="preflight">'):]
    pre = pre[:pre.index("</section>")]
    assert "Foothold: per-prompt pass rates" in pre and '<span class="badge good">foothold</span>' in pre
    assert '<span class="badge bad">hackable</span>' in pre  # explicit level wins
    assert "<th>bucket</th>" in pre and "0 &lt; p &lt; 1" in pre
    assert pre.count("<svg") == 1 and "the verifier accepted a doubled answer" in pre


def test_findings_section_shows_prescription_and_source(full_html):
    html = full_html
    block = html[html.index('id="finding-rl-calibration"'):]
    block = block[:block.index("</details>")]
    assert "offtarget train grpo --reward correctness --reward brier" in block
    assert "2507.16806" in block and "ece_verbalized" in block


@pytest.mark.parametrize("verdict, level", [("reproduced", "good"), ("not reproduced", "bad"),
                                            ("inconclusive", "neutral"), ("no foothold", "bad"),
                                            ("foothold", "good"), ("broken", "bad"), ("no-go", "bad")])
def test_verdict_class(verdict, level):
    assert verdict_class(verdict) == level
