"""The evaluation's one method table: Deletion / Insertion, hiding-game AUC and seconds per pair, from records."""

from __future__ import annotations

import pandas as pd
import pytest

from explain_engine.evaluation.report import hiding_tables, method_table


def _record(key, label, hiding, seconds):
    return {"key": key, "label": label, "status": "ok", "threshold": 0.5, "fractions": [0.0, 0.5, 1.0],
            "hiding": hiding, "method_seconds": seconds}


def test_hiding_auc_counts_both_pair_kinds_and_s1_pays_for_s0():
    # fggb keeps the genuine pair matched until everything is hidden; s0 loses it at half
    genuine = _record("g", 1, {"fggb": [[0.9, 0.8, 0.2]] * 2, "s0/inpaint": [[0.9, 0.3, 0.2]] * 2},
                      {"fggb": 2.0, "s0/inpaint": 0.5, "s1/inpaint": 1.0})
    impostor = _record("i", 0, {"fggb": [[0.3, 0.2, 0.1]] * 2, "s0/inpaint": [[0.3, 0.6, 0.1]] * 2},
                       {"fggb": 4.0, "s0/inpaint": 0.5, "s1/inpaint": 1.0})
    trials, agg = hiding_tables([genuine, impostor, {"status": "skipped"}])
    assert len(trials) == 2 * 2 * 2 * 3  # pairs x methods x sides x fractions
    acc = agg.set_index(["method", "fraction"]).accuracy
    assert acc["fggb", 0.5] == 1.0 and acc["s0/inpaint", 0.5] == 0.0 and acc["fggb", 1.0] == 0.5
    table = method_table(pd.DataFrame(), agg, [genuine, impostor]).set_index("method")
    assert table.loc["fggb", "hiding_auc"] == pytest.approx(100 * (0.5 * (1 + 1) / 2 + 0.5 * (1 + 0.5) / 2))
    assert table.loc["fggb", "hiding_auc"] > table.loc["s0/inpaint", "hiding_auc"]
    assert table.loc["fggb", "seconds_per_pair"] == 3.0
    assert "s1/inpaint" not in table.index  # no map, no row
    ablation = pd.DataFrame([{"method": "s1/inpaint", "deletion": 20.0, "insertion": 60.0}])
    table = method_table(ablation, agg, [genuine, impostor]).set_index("method")
    assert table.loc["s1/inpaint", "seconds_per_pair"] == 1.5  # its own steps plus the S0 step it reuses
    assert table.loc["s1/inpaint", "deletion"] == 20.0 and pd.isna(table.loc["s1/inpaint", "hiding_auc"])


def test_report_says_what_one_trial_weighs():
    from explain_engine.evaluation.report import method_lines, trial_weights

    assert trial_weights({"genuine_pairs": 8, "pairs": 16}) == (6.25, 3.125)
    assert trial_weights({}) == (None, None)
    methods = pd.DataFrame([{"name": "FGGB", "deletion": 30.0, "insertion": 50.0, "hiding_auc": 80.0,
                             "seconds_per_pair": 1.0}])
    text = "\n".join(method_lines(methods, {"genuine_pairs": 1, "pairs": 2}))
    assert "Deletion / Insertion by 50.0 points" in text and "hiding game by up to 25.0" in text
    assert "Sample size" not in "\n".join(method_lines(methods, {}))
