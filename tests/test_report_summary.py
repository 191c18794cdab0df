"""The summary table is read off the engine's JSON, level by level."""

from ttscale.report.summary import summary_frame, techniques_with_finite_rate

RESULT = {
    "techniques": {
        "a": {
            "levels": {
                "0.2": {"exchange_rate_median": 2.0, "span_oom_train": 0.5, "span_oom_infer": 1.0},
                "0.5": {"exchange_rate_median": 4.0, "span_oom_train": 0.7, "span_oom_infer": 0.2},
                "0.9": {"exchange_rate_median": None, "span_oom_train": 0, "span_oom_infer": 0},
            },
            "summary": {"effect_of_scale": "increasing span"},
            "fit": {"r2": 0.91234, "n_points": 20, "quality": "good"},
        },
        "b": {
            "levels": {"0.5": {"exchange_rate_median": None, "span_oom_train": 0, "span_oom_infer": 0}},
            "fit": None,
            "problem": "technique 'b' has 3 points; fitting needs at least 6",
        },
    }
}


def test_spans_are_the_largest_over_levels_and_rates_the_median():
    frame = summary_frame(RESULT).set_index("technique")
    assert frame.loc["a", "span in TC (OOM)"] == 0.7
    assert frame.loc["a", "span in IC (OOM)"] == 1.0
    assert frame.loc["a", "exchange rate (median over levels)"] == 3.0
    assert frame.loc["a", "effect of scale"] == "increasing span"
    assert frame.loc["a", "fit R²"] == 0.912


def test_an_unfitted_technique_says_why_and_has_no_rate():
    frame = summary_frame(RESULT).set_index("technique")
    assert "fitting needs at least 6" in frame.loc["b", "note"]
    assert frame.loc["b", "span in TC (OOM)"] == 0.0
    assert techniques_with_finite_rate(RESULT) == ["a"]
