"""Figures and TensorBoard read at a glance: axes that do not mislead, strips whose titles do not
sit on the row above, Sudoku digits drawn as numbers, and a run's config, hparams and strip in
TensorBoard."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dis_rl.plot_axes import clip_outliers, compact, count_axis, percent_axis  # noqa: E402


def test_percent_axis_starts_at_zero_and_an_all_zero_run_reads_as_percent():
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [0, 0, 0])
    percent_axis(ax, [0, 0, 0])
    low, high = ax.get_ylim()
    assert low < 0 < 9 < high <= 11  # 0..10 %, not -0.04..0.04 or 0..1
    percent_axis(ax, [5, 80])
    assert ax.get_ylim()[1] >= 100
    plt.close(fig)


def test_an_outlier_is_marked_not_scaled_to():
    fig, ax = plt.subplots()
    series = {"w=0": [64, 3.5, 3.4, 2.9], "w=1": [3.5, 3.4, 2.9, 1.8], "w=2": [3.5, 2.1, 1.8, 1.7]}
    for ys in series.values():
        ax.plot([1, 2, 3, 4], ys)
    clip_outliers(ax, [1, 2, 3, 4], series, {})
    assert 3.5 < ax.get_ylim()[1] < 10
    assert any("w=0: 64 (off scale)" in t.get_text() for t in ax.texts)
    plt.close(fig)


def test_log_axes_label_majors_only_and_counts_are_compact():
    fig, ax = plt.subplots()
    ax.plot([20_000, 40_000, 60_000], [1, 2, 3])
    count_axis(ax, log=True)
    fig.canvas.draw()
    minor = [t.get_text() for t in ax.xaxis.get_minorticklabels() if t.get_text()]
    major = [t.get_text() for t in ax.xaxis.get_majorticklabels() if t.get_text()]
    assert not minor and {"20k", "30k", "50k"} <= set(major)
    assert compact(1_234_567) == "1.23M" and compact(950) == "950"
    plt.close(fig)


def test_strip_titles_clear_the_row_above_and_the_outline_has_a_legend():
    from dis_rl.figures import refinement_strip
    from dis_rl.puzzles import get_domain

    domain = get_domain("nqueens")
    board = np.full(64, 1)
    fig = refinement_strip(domain, board, board, np.stack([board] * 3), np.stack([board] * 3), title="t")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    axes = np.array(fig.axes).reshape(2, 4)
    for top, bottom in zip(axes[0], axes[1]):
        title = bottom.title.get_window_extent(renderer)
        assert title.y1 <= top.get_window_extent(renderer).y0, "a bottom-row title overlaps the top row"
    assert any("changed since the previous frame" in t.get_text() for legend in fig.legends for t in legend.texts)
    plt.close(fig)


def test_sudoku_digits_are_drawn_as_numerals():
    from dis_rl.puzzles import get_domain
    from dis_rl.puzzles.render import DIGIT_GLYPHS

    tokens = np.ones(81, dtype=np.int64)  # all blank
    tokens[0] = 7 + 1  # digit 7 in the top-left cell
    image = get_domain("sudoku").render_rgb(tokens, cell=16)
    ink = (image == (20, 20, 120)).all(axis=-1)
    assert ink[:16, :16].any() and not ink[16:, 16:].any()  # ink only where a digit is
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    glyph = ink[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]
    scale = glyph.shape[0] // 5
    assert np.array_equal(glyph, np.kron(DIGIT_GLYPHS[7], np.ones((scale, scale), dtype=bool)))


@pytest.mark.parametrize("method", ["trm"])  # the loop logs the same for every method
def test_a_run_writes_its_figures_and_logs_config_hparams_and_strip(tmp_path, tiny_overrides, method):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from dis_rl.config import load_config
    from dis_rl.train import train

    extra = ["train.method=trm", "model.halting_head=true", "model.step_embedding=0",
             "train.supervision_steps=2"] if method == "trm" else []
    cfg = load_config("nqueens_dis", [*tiny_overrides, "train.eval_every=2", *extra])
    train(cfg, tmp_path / "run", progress=False)
    for figure in ("accuracy_vs_calls.png", "hamming_per_step.png"):  # the Python train() draws them too
        assert (tmp_path / "run" / figure).read_bytes()[:4] == b"\x89PNG"
    events = EventAccumulator(str(tmp_path / "run" / "tb"), size_guidance={"images": 0, "tensors": 0}).Reload()
    tags = events.Tags()
    assert "eval/refinement_strip" in tags["images"]
    assert [e.step for e in events.Images("eval/refinement_strip")] == [2, 4]
    assert "config/text_summary" in tags["tensors"]
    text = events.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert f"method: {method}" in text
    assert "_hparams_/session_start_info" in events.PluginTagToContent("hparams")
    assert "hparam/valid" in tags["scalars"]
