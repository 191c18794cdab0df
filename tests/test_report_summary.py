"""The summary table is read off the engine's JSON: the level with the widest span, its rate in words
when there is none, the interval when there is one, a truncated span said as such."""

from ttscale.report.summary import summary_frame, techniques_with_rate, techniques_with_span

RESULT = {
    "techniques": {
        "a": {
            "levels": {
                "0.2": {"exchange_rate": 2.0, "exchange_rate_ci": [1.5, 2.5], "span_oom_train": 0.5,
                        "span_oom_infer": 1.0, "span_oom_train_ci": [0.3, 0.7], "span_oom_infer_ci": [0.6, 1.3],
                        "span_note": None},
                "0.5": {"exchange_rate": 4.0, "exchange_rate_ci": None, "span_oom_train": 0.7, "span_oom_infer": 0.2,
                        "span_oom_train_ci": [0.0, 0.9], "span_oom_infer_ci": [0.0, 0.3],
                        "span_note": "truncated at the data's edge (high-TC end): the true span is at least this wide"},
                "0.9": {"exchange_rate": None, "exchange_rate_reason": "no measured configuration reaches 0.9",
                        "span_oom_train": 0, "span_oom_infer": 0},
            },
            "summary": {"effect_of_scale": "increasing span"},
            "n_points": 20,
        },
        "b": {
            "levels": {"0.5": {"exchange_rate": None, "span_oom_train": 0, "span_oom_infer": 0,
                               "exchange_rate_reason": "one configuration reaches the level with both the least "
                                                       "TC and the least IC: nothing to trade"}},
            "summary": {},
            "n_points": 1,
        },
    }
}


def test_the_row_is_the_level_with_the_widest_span_with_its_intervals():
    frame = summary_frame(RESULT).set_index("technique")
    assert frame.loc["a", "level"] == "0.2"
    assert frame.loc["a", "span in TC (OOM)"] == "0.50 [0.30, 0.70]"
    assert frame.loc["a", "span in IC (OOM)"] == "1.00 [0.60, 1.30]"
    assert frame.loc["a", "exchange rate"] == "median 2 [1.5, 2.5]"
    assert "effect of scale: increasing span" in frame.loc["a", "note"]


def test_a_technique_without_a_rate_says_why_in_words():
    frame = summary_frame(RESULT).set_index("technique")
    assert frame.loc["b", "exchange rate"].startswith("none: one configuration reaches the level")
    assert frame.loc["b", "span in TC (OOM)"] == "0.00"
    assert techniques_with_rate(RESULT) == ["a"]


def test_the_span_goal_needs_width_in_both_computes_and_intervals_above_zero():
    assert techniques_with_span(RESULT, 0.3) == ["a"]  # level 0.2: 0.5 and 1.0, intervals above 0
    assert techniques_with_span(RESULT, 0.6) == []  # 0.5 OOM of TC is not enough
