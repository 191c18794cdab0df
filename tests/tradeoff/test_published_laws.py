"""The engine against published laws and published data, not against its own assumptions.

- Hoffmann et al. (2022), the Chinchilla law L = E + A/N^alpha + B/D^beta (E 1.69, A 406.4, B 410.7,
  alpha 0.34, beta 0.28), TC = 6ND, IC = 2N per token, performance = exp(-L). Along an iso-loss curve the
  rate is 1/(q - 1) with q = alpha A N^-alpha / (beta B D^-beta), so the span at ratio 6 (q from 7/6 to 7)
  has a closed form, the same at every loss level: 1.21 OOM of TC and 0.71 OOM of IC (Epoch 2023 publishes
  1.2 / 0.7 for this technique). The closed form is computed below from alpha and beta alone.
- Jones (2021), Hex 9x9: log10(test compute) = -1.2 log10(train compute) + 0.004 Elo + 29: iso-Elo lines
  of slope -1.2, a rate of 1.2 everywhere.
- Besiroglu et al. (2024): 245 runs read off Chinchilla's Figure 4 (``../shared/published``; read when
  present, never copied into the project). Their refit (E 1.8169, A 482.01, B 2085.43, alpha 0.3478,
  beta 0.3658) implies 0.99 / 0.59 OOM; the points stop at D/N = 341, so the measured span is cut by the
  data's edge, and only the extrapolating smoother reaches the full width.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from ttscale.tradeoff import analyse, load_points_csv
from ttscale.tradeoff.laws import CHINCHILLA, CHINCHILLA_REFIT, chinchilla_points, closed_form_span, hex_points

PUBLISHED = Path(__file__).resolve().parents[3] / "shared" / "published" / "chinchilla_fig4_epoch_extracted.csv"
# Levels whose whole efficient span lies inside the grid of chinchilla_points (0.16 runs into its largest D).
INSIDE_GRID = [0.03, 0.05, 0.08, 0.1, 0.12, 0.14]


def test_closed_form_is_the_published_figure():
    train, infer = closed_form_span(CHINCHILLA)
    assert train == pytest.approx(1.21, abs=0.01) and infer == pytest.approx(0.71, abs=0.01)
    train, infer = closed_form_span(CHINCHILLA_REFIT)
    assert train == pytest.approx(0.99, abs=0.01) and infer == pytest.approx(0.59, abs=0.01)


@pytest.fixture(scope="module")
def chinchilla_result():
    return analyse(chinchilla_points(), levels=INSIDE_GRID + [0.16], n_boot=0, extrapolate=True)


@pytest.mark.parametrize("level", INSIDE_GRID)
def test_chinchilla_span_from_the_frontier_matches_the_closed_form_at_every_level(chinchilla_result, level):
    want_train, want_infer = closed_form_span(CHINCHILLA)
    entry = chinchilla_result["techniques"]["scaling policy"]["levels"][f"{level:g}"]
    assert entry["span_oom_train"] == pytest.approx(want_train, abs=0.1)
    assert entry["span_oom_infer"] == pytest.approx(want_infer, abs=0.1)
    assert entry["span_truncated"] == {"low_train": False, "high_train": False}
    assert entry["exchange_rate"] is not None


@pytest.mark.parametrize("level", INSIDE_GRID)
def test_chinchilla_rate_falls_from_the_compute_optimal_end_to_the_over_trained_end(chinchilla_result, level):
    entry = chinchilla_result["techniques"]["scaling policy"]["levels"][f"{level:g}"]
    rates = np.array(entry["exchange_rate_along_curve"], dtype=float)
    curve = np.log10(np.array(entry["curve"]))
    assert rates[0] > 2.5  # the frontier starts near the compute-optimal point (rate -> infinity)
    assert rates[-1] < 0.1  # ... and runs far into over-training (rate -> 0)
    # At the span's over-trained end the rate is 1/6: read it off the curve there.
    end_x = math.log10(entry["span_endpoints"]["train_flops"][1])
    at_end = float(np.exp(np.interp(end_x, curve[:, 0], np.log(rates))))
    assert at_end == pytest.approx(1 / 6, rel=0.15)
    # Falling along the curve (the convex fit's interpolated slope may wobble by a few per cent between grid lines).
    assert np.all(np.diff(np.log(rates)) < 0.05)


def test_chinchilla_span_past_the_grid_is_flagged_truncated(chinchilla_result):
    entry = chinchilla_result["techniques"]["scaling policy"]["levels"]["0.16"]
    assert entry["span_truncated"]["high_train"] is True
    assert "truncated at the data's edge" in entry["span_note"]


def test_chinchilla_power_law_smoother_is_accepted_and_extrapolates_the_closed_form(chinchilla_result):
    tech = chinchilla_result["techniques"]["scaling policy"]
    verdicts = {v["name"]: v for v in tech["smoothers"]}
    assert verdicts["power-law"]["accepted"] is True
    # The logistic family bends the wrong way for a sum of power laws: the frontier check rejects it.
    assert verdicts["logistic"]["accepted"] is False and "misses" in verdicts["logistic"]["reason"]
    want_train, want_infer = closed_form_span(CHINCHILLA)
    for level in INSIDE_GRID + [0.16]:
        extrapolated = tech["levels"][f"{level:g}"]["extrapolated"]
        assert extrapolated["smoother"] == "power-law"
        assert extrapolated["span_oom_train"] == pytest.approx(want_train, abs=0.02)
        assert extrapolated["span_oom_infer"] == pytest.approx(want_infer, abs=0.02)


def test_hex_rate_is_1_2_everywhere_and_the_span_runs_to_the_data_edge():
    result = analyse(hex_points(), levels=[0.2, 0.5, 0.8], n_boot=0)
    for level in result["techniques"]["MCTS (Hex 9x9)"]["levels"].values():
        rates = np.array(level["exchange_rate_along_curve"], dtype=float)
        assert level["exchange_rate"] == pytest.approx(1.2, rel=0.03)
        assert np.all(np.abs(np.log(rates / 1.2)) < np.log(1.1))
        # Rate 1.2 is efficient everywhere: the span is the whole frontier, cut by the data at both ends.
        frontier = np.log10(np.array(level["frontier"]["points"]))
        assert level["span_oom_train"] == pytest.approx(np.ptp(frontier[:, 0]), abs=0.02)
        assert level["span_oom_infer"] == pytest.approx(1.2 * level["span_oom_train"], rel=0.03)
        assert level["span_truncated"] == {"low_train": True, "high_train": True}


def _published_or_skip() -> Path:
    if not PUBLISHED.is_file():
        pytest.skip(f"published data not present at {PUBLISHED} (a clone of the project alone does not carry it)")
    return PUBLISHED


def test_chinchilla_extracted_points_say_the_span_is_truncated():
    points = load_points_csv(_published_or_skip())
    assert len(points) == 245
    result = analyse(points, levels=[0.06, 0.08, 0.1], n_boot=0)
    for level in result["techniques"]["scaling_policy"]["levels"].values():
        # The runs stop at D/N = 341, while the span reaches D/N ~ 2e4: the over-trained end is cut.
        assert level["span_truncated"]["high_train"] is True, level["span_note"]
        assert level["span_oom_infer"] < 0.59


def test_chinchilla_extracted_points_extrapolated_come_near_the_published_refit(tmp_path):
    source = _published_or_skip()
    # As the replication did: its five highest-loss outliers are left out of the fit.
    with source.open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["epoch_excluded_outlier"] != "1"]
    kept = tmp_path / "points.csv"
    with kept.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = analyse(load_points_csv(kept), levels=[0.06, 0.08, 0.1], n_boot=0, extrapolate=True)
    want_train, want_infer = 0.99, 0.59
    for level in result["techniques"]["scaling_policy"]["levels"].values():
        extrapolated = level["extrapolated"]
        assert extrapolated["smoother"] == "power-law"
        assert extrapolated["span_oom_train"] == pytest.approx(want_train, abs=0.1)
        assert extrapolated["span_oom_infer"] == pytest.approx(want_infer, abs=0.1)
        assert any(extrapolated["outside_data"])  # and it says which part lies beyond the data
