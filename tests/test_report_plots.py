"""The report's figures and summary section are readable: bounded pixel size with panels in a grid,
at least two labelled ticks on every axis of every visible panel (narrow ranges included), a panel
without a curve or rate says why in words, extrapolations dashed, truncated spans marked, and the
HTML summary prints the levels, the words and the intervals' method, self-contained."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from ttscale.report import html
from ttscale.report.budget_plots import budget_figure, plot_budget_curves, plot_table, table_figure
from ttscale.report.summary import WORDS, summary_frame
from ttscale.report.panels import DPI, log_tick_values
from ttscale.report.tradeoff_plots import iso_figure, plot_iso_diagram, rate_figure
from ttscale.report.tradeoff_sections import tradeoff_sections
from ttscale.techniques import PointDetail
from ttscale.tradeoff import analyse
from ttscale.types import Point

MAX_WIDTH_PX = 2000
MIN_PANEL_HEIGHT_PX = 350


def hex_like(name: str, log_train: np.ndarray, log_test: np.ndarray) -> list[Point]:
    """Iso-performance lines of slope -1.2 (Jones 2021, Hex): a rate of 1.2 everywhere, spans cut by the data."""
    points = []
    for lt in log_train:
        for ls in log_test:
            elo = (ls + 1.2 * lt - 29.0) / 0.004
            points.append(Point(name, f"agent-{lt:.2f}", 10**lt, 10**ls, 1.0 / (1.0 + 10.0 ** (-elo / 400.0))))
    return points


def ladder(name: str, train: list[float], base_ic: float) -> list[Point]:
    """Models at k = 1..64 with pass@k over a spread of per-problem difficulties."""
    difficulty = np.random.default_rng(0).normal(0.0, 1.5, 200)
    points = []
    for i, tc in enumerate(train):
        p = 1 / (1 + np.exp(-(-2.5 + 1.6 * i - difficulty)))
        for k in (1, 2, 4, 8, 16, 32, 64):
            points.append(Point(name, f"m{i}", tc, base_ic * (i + 1) * k, float(np.mean(1 - (1 - p) ** k))))
    return points


@pytest.fixture(scope="module")
def points() -> list[Point]:
    return (hex_like("MCTS (Hex 9x9)", np.arange(13.0, 17.01, 0.5), np.arange(7.0, 11.01, 0.5))
            + ladder("repeated sampling", list(np.logspace(12, 13.2, 5)), 3e5)
            # Less than one decade of TC and of IC.
            + hex_like("narrow", np.linspace(14.3, 14.6, 4), np.linspace(9.3, 9.55, 4))
            + [Point("hopeless", f"h{i}", tc, ic, 0.0) for i, (tc, ic) in
               enumerate([(1e12, 1e6), (1e12, 4e6), (1e13, 1e6), (1e13, 4e6)])])


@pytest.fixture(scope="module")
def result(points) -> dict:
    return analyse(points, levels=[0.1, 0.3, 0.5, 0.7], n_boot=0, extrapolate=True)


def drawn(fig):
    fig.canvas.draw()
    return fig


def visible_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible() and ax.axison and ax.get_label() != "<colorbar>"]


def labelled_ticks(ax, which: str) -> list[str]:
    axis = ax.xaxis if which == "x" else ax.yaxis
    lo, hi = sorted(ax.get_xlim() if which == "x" else ax.get_ylim())
    at = 0 if which == "x" else 1
    return [t.get_text() for t in axis.get_majorticklabels()
            if t.get_text().strip() and lo * (1 - 1e-9) <= t.get_position()[at] <= hi * (1 + 1e-9)]


def panel_of(fig, name: str):
    return next(ax for ax in fig.axes if ax.get_title() == name)


def panel_text(ax) -> str:
    return " ".join(t.get_text() for t in ax.texts).replace("\n", " ")


def panel_heights_px(fig) -> list[float]:
    renderer = fig.canvas.get_renderer()
    return [ax.get_window_extent(renderer).height * DPI / fig.dpi for ax in visible_axes(fig)]  # as saved


@pytest.mark.parametrize("lo, hi", [(2e12, 3e12), (1.05e12, 1.9e12), (9e11, 1.7e12), (3e12, 2e13), (1e9, 6e10),
                                    (1e14, 1e30), (0.05, 20.0), (0.999e6, 1.001e6)])
def test_log_ticks_give_at_least_two_labels_however_narrow_and_at_most_seven(lo, hi):
    ticks = log_tick_values(lo, hi)
    assert 2 <= len(ticks) <= 7
    assert all(lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9) for t in ticks)
    # The labels spread over a good part of the axis, not bunched at one end.
    assert math.log10(ticks[-1] / ticks[0]) >= math.log10(hi / lo) / 3


@pytest.mark.parametrize("make", [lambda r, p: iso_figure(r, p), lambda r, p: rate_figure(r)], ids=["iso", "rate"])
def test_every_visible_axis_has_two_labelled_ticks_and_units(result, points, make):
    fig = drawn(make(result, points))
    axes = visible_axes(fig)
    assert len(axes) == len(result["techniques"])
    for ax in axes:
        for which in ("x", "y"):
            assert len(labelled_ticks(ax, which)) >= 2, (ax.get_title(), which, ax.get_xlim(), ax.get_ylim())
        assert ax.get_xlabel() == "training compute (FLOPs)"
        assert ax.get_ylabel() in ("inference compute per problem (FLOPs)", "exchange rate |d log IC / d log TC|")


def test_narrow_panel_labels_values_inside_one_decade(result, points):
    fig = drawn(iso_figure(result, points))
    ax = panel_of(fig, "narrow")
    assert math.log10(ax.get_xlim()[1] / ax.get_xlim()[0]) < 1.5
    labels = labelled_ticks(ax, "x")
    assert len(labels) >= 2 and any("times" in label for label in labels)  # e.g. 2x10^14, not only decades


def test_panels_without_a_curve_or_a_rate_say_why(result, points):
    reason = result["techniques"]["hopeless"]["levels"]["0.1"]["exchange_rate_reason"]
    assert reason.startswith("no measured configuration reaches 0.1")
    iso = drawn(iso_figure(result, points))
    text = panel_text(panel_of(iso, "hopeless"))
    assert "no iso-performance curve" in text and reason in text
    assert len(panel_of(iso, "hopeless").collections) >= 1  # its points are still shown
    rate = drawn(rate_figure(result))
    text = panel_text(panel_of(rate, "hopeless"))
    assert text.startswith("no measured rate: ") and reason in text


def test_levels_without_a_curve_are_named_under_the_title(result, points):
    tech = result["techniques"]["repeated sampling"]
    missing = [k for k, level in tech["levels"].items() if not level["curve"]]
    present = [k for k, level in tech["levels"].items() if level["curve"]]
    assert missing and present, "the fixture should give the ladder a curve at some levels only"
    fig = drawn(iso_figure(result, points))
    text = panel_text(panel_of(fig, "repeated sampling"))
    assert all(key in text for key in missing) and "no curve at" in text


def test_iso_panels_show_curves_spans_extrapolations_and_truncation(result, points):
    fig = drawn(iso_figure(result, points))
    ax = panel_of(fig, "MCTS (Hex 9x9)")
    styles = [(line.get_linestyle(), line.get_marker()) for line in ax.lines]
    assert ("-", "None") in styles  # curves
    assert ("--", "None") in styles  # extrapolated outside the data
    assert ("None", "D") in styles  # frontier points
    assert ("None", "X") in styles  # spans cut by the data's edge (a rate of 1.2 runs to the edge)
    legend_texts = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert "performance 0.5" in legend_texts and any("extrapolated" in t for t in legend_texts)
    assert any("cut by the data's edge" in t for t in legend_texts)
    assert len(fig.legends) == 1  # one shared legend, none per panel
    assert not any(ax.get_legend() for ax in fig.axes)


def test_many_panels_make_a_grid_of_bounded_width_and_readable_height():
    techniques, pts = {}, []
    for i in range(15):
        name = f"technique {i}"
        techniques[name] = {"levels": {"0.5": {"level": 0.5, "curve": [], "exchange_rate": None,
                                               "exchange_rate_reason": "no measured configuration reaches 0.5 "
                                                                       "(best: 0.1)",
                                               "exchange_rate_along_curve": [], "frontier": {"points": []}}},
                            "support": {"log10_train_flops_range": [12.0, 12.0 + i % 3],
                                        "log10_infer_flops_range": [6.0, 8.0]}}
        pts += [Point(name, "m", 10.0 ** (12 + i % 3), 10.0 ** (6 + j), 0.1) for j in range(3)]
    result = {"ratio": 6.0, "levels": [0.5], "techniques": techniques}
    for fig in (iso_figure(result, pts), rate_figure(result)):
        drawn(fig)
        width, height = fig.get_size_inches() * DPI
        assert width <= MAX_WIDTH_PX and height / width < 3
        assert min(panel_heights_px(fig)) >= MIN_PANEL_HEIGHT_PX
        assert len(visible_axes(fig)) == 15
        assert all("no measured configuration reaches 0.5" in panel_text(ax) for ax in visible_axes(fig))


def budget_details(n_panels: int) -> list[PointDetail]:
    details = []
    for s in range(n_panels):
        for m, tc in enumerate((1e12, 3e12, 1e13)):
            for k in (1, 2, 4, 8):
                perf = 1 - (1 - 0.1 * (m + 1)) ** k
                point = Point(f"tech {s}", f"model {m}", tc, 1e6 * (m + 1) * k, perf, perf - 0.05, perf + 0.05)
                details.append(PointDetail(point, "arith:digits=2,operands=3", f"strategy-{s}", k, 0.0, float(k)))
    return details


def test_budget_curves_are_a_grid_not_a_strip(tmp_path):
    fig = drawn(budget_figure(budget_details(15)))
    width, height = fig.get_size_inches() * DPI
    assert width <= MAX_WIDTH_PX
    axes = visible_axes(fig)
    assert len(axes) == 15 and min(panel_heights_px(fig)) >= MIN_PANEL_HEIGHT_PX
    assert len({round(ax.get_position().y0, 3) for ax in axes}) >= 4  # several rows
    for ax in axes:
        assert len(labelled_ticks(ax, "x")) >= 2 and len(labelled_ticks(ax, "y")) >= 2
        assert ax.get_legend() is None
    assert len(fig.legends) == 1 and len(fig.legends[0].get_texts()) == 3  # one entry per model
    png = plot_budget_curves(budget_details(2), tmp_path / "budget.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError):
        budget_figure([d for d in budget_details(1) if d.k == 1])


def test_summary_table_picture_wraps_long_cells(result, tmp_path):
    frame = summary_frame(result)
    fig = table_figure(frame, "span of efficient exchange per technique")
    row = 1 + list(frame["technique"]).index("hopeless")  # row 0 is the header
    column = list(frame.columns).index("exchange rate")
    lines = fig.axes[0].tables[0].get_celld()[(row, column)].get_text().get_text().split("\n")
    assert lines[0].startswith("none: ") and len(lines) >= 2 and all(len(line) <= 30 for line in lines)
    assert fig.get_size_inches()[0] * DPI <= MAX_WIDTH_PX
    assert plot_table(frame, tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"


def test_summary_section_prints_levels_words_intervals_and_rates_in_words(result, points, tmp_path):
    details = [PointDetail(p, "task", p.technique, 1, 0.0, 1.0) for p in points]
    result = dict(result, uncertainty={"method": "points", "words": "each point redrawn within its CI"})
    sections = tradeoff_sections(result, details, tmp_path)
    page = html.render(html.Report("t", "s", sections))
    summary = page[page.index("<h2>Summary</h2>"):page.index("<h2>Iso-performance curves</h2>")]
    assert "0.1, 0.3, 0.5, 0.7" in summary and "as given" in summary
    assert "each point redrawn within its CI" in summary
    assert WORDS["rate"].split(": ", 1)[1][:40] in summary and "orders of magnitude" in summary
    assert "none: no measured configuration reaches 0.1" in summary
    assert "text-table" in summary
    for name in ("summary_table.png", "iso_performance.png", "exchange_rate.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)  # self-contained


def test_empty_result_renders_a_note_not_an_empty_box(tmp_path):
    fig = drawn(iso_figure({"ratio": 6.0, "techniques": {}}, []))
    assert "no techniques" in " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert plot_iso_diagram({"ratio": 6.0, "techniques": {}}, [], tmp_path / "e.png").read_bytes()[:4] == b"\x89PNG"



def test_html_tables_align_numbers_right_and_words_left():
    frame = pd.DataFrame({"technique": ["a <b>", "c"], "points": [3, 4], "rate": [1.23456, float("nan")]})
    page = html.render(html.Report("t", "s", [html.Section("S", tables=[html.Table("cap", frame, text=True)])]))
    assert "<td>a &lt;b&gt;</td>" in page  # escaped, left-aligned
    assert "<td class='num'>3</td>" in page and "<td class='num'>1.23</td>" in page
    assert "<td class='num'>—</td>" in page  # missing values shown as a dash
    assert "class='dataframe text-table'" in page
