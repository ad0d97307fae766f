"""Every benchmark's --quick mode runs end to end and writes its JSON with the expected keys.

Each benchmark runs as a user runs it, `python benchmarks/NAME.py --quick --out FILE`, in a child
process whose working directory is a temporary folder (so nothing lands in the repository).
Where a script has a flag for a heavy section, the section is left out here: run.py without its
`limits` section (limits.py runs on its own below), limits.py with the grid only (no training
featurization, no Ray). The values are checked for sense (positive rates, counts that match),
never against a speed: speed depends on the machine.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import REPO, shared_file

pytestmark = pytest.mark.slow


def quick(name: str, tmp_path, *extra: str) -> dict:
    """Run benchmarks/NAME.py --quick and return the JSON it wrote."""
    shared_file("llmfake.clean.jsonl")
    shared_file("usnews_mar2023_human.clean.jsonl")
    out = tmp_path / f"{name}.json"
    cmd = [sys.executable, str(REPO / "benchmarks" / f"{name}.py"), "--quick", "--out", str(out), *extra]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    return json.loads(out.read_text())


def positive(*values) -> bool:
    return all(isinstance(v, (int, float)) and v > 0 for v in values)


def test_run_quick(tmp_path):
    res = quick("run", tmp_path, "--no-limits")
    assert {"machine", "settings", "targets", "load", "sizes", "rss_run", "training", "self_peak_rss_gib"} <= set(res)
    assert "limits" not in res
    s = res["settings"]
    assert s["quick"] and s["rounds"] == 1 and s["sizes"] == [300]
    assert positive(res["load"]["import_torch_s"], res["load"]["smollm_s"], res["load"]["minilm_s"])
    row = res["sizes"]["300"]
    assert len(row["rounds"]) == 1
    for path in ("cli", "api", "bare", "fast_cli", "fast_api", "fast_bare"):
        assert row[path]["articles"] == s["n"], path
        assert positive(row[path]["articles_per_s"], row[path]["tokens_per_s"]), path
    for cli in (row["cli"], row["fast_cli"]):
        assert cli["records"] == s["n"] and cli["exit_code"] == 0
        assert positive(cli["startup_to_first_record_s"], cli["peak_rss_gib"])
    assert row["api"]["abstained"] == 0
    assert positive(row["bare"]["lm_forward_s"], row["fast_bare"]["minilm_forward_s"])
    assert positive(row["api_over_bare"], row["cli_over_bare"], row["fast_api_over_bare"])
    rss = res["rss_run"]
    assert rss["records"] == s["rss_n"] and positive(rss["peak_rss_gib"], rss["articles_per_s"])
    assert rss["peak_rss_gib_total"] >= rss["peak_rss_gib_cli"] > 0
    t = res["training"]
    assert t["articles"] == 2 * s["train_per_label"] and positive(t["from_scratch_s"], t["from_cache_s"])
    assert positive(res["self_peak_rss_gib"])


def test_limits_quick(tmp_path):
    res = quick("limits", tmp_path, "--sections", "grid", "--ray-n", "0")
    assert {"cores", "targets", "settings", "sizes", "load_average_at_start", "load_average_at_end"} <= set(res)
    assert "train" not in res and "ray" not in res
    row = res["sizes"]["300"]
    assert len(row["grid"]) == 1 and positive(row["windows"], row["window_tokens"])
    best = row["best"]
    assert best["processes"] == res["cores"] and best["threads"] == 1
    assert positive(best["articles_per_s"], best["tokens_per_s"], row["best_on_sample"]["articles_per_s"])
    cli = row["cli_auto"]
    n = res["settings"]["limits_n"][0]
    assert cli["articles"] == cli["records"] == n and cli["exit_code"] == 0
    assert positive(cli["steady_articles_per_s"], cli["startup_to_first_record_s"], row["share_of_best_bare"])
    assert positive(cli["peak_rss_gib"], cli["peak_rss_gib_cli"], *cli["peak_rss_gib_workers"])
    assert cli["peak_rss_gib_total"] >= cli["peak_rss_gib"]
    assert cli["other_cpu_cores"] >= 0 and positive(cli["cpu_cores_run"])


def test_model_speed_quick(tmp_path):
    res = quick("model_speed", tmp_path)  # no --baseline: the model against itself
    assert res["model"] == res["baseline"] == "inference/models/default"
    assert res["articles"] == 2 and len(res["rounds_s"]["model"]) == 1
    assert positive(res["median_s"]["model"], res["median_s"]["baseline"], res["model_over_baseline_time"])


def test_evidence_retrieval_quick(tmp_path):
    res = quick("evidence_retrieval", tmp_path)
    (row,) = res["rows"]
    assert row["n_sentences"] == 10_000
    assert positive(row["exact_ms_per_article"], row["faiss_ms_per_article"], row["faiss_build_s"])
    assert 0 <= row["faiss_recall_at_5"] <= 1
    (load,) = res["load"]
    assert load["n_sentences"] == 10_000
    for name, stored in (("without_ivf", False), ("with_ivf", True)):
        assert load[name]["ivf_stored"] is stored
        assert positive(load[name]["load_and_first_search_s"], load[name]["peak_rss_gib"])
    assert positive(res["peak_rss_gib"])


def test_evidence_targets_quick(tmp_path):
    res = quick("evidence_targets", tmp_path)
    held = res["heldout"]
    assert held["settings"]["n_stories"] == 8 and held["corruption_auroc"]["name_same"]["n"] > 0
    assert held["qags"]["n_summaries"] == 12 and held["climate_fever"]["n_claims"] == 12
    assert {"002_vs_000", "000_vs_000", "000_vs_5_unrelated"} <= set(res["seeds"])
    assert len(res["seeds"]["002_vs_000"]["invented_marked"]) == 11
    claims = res["claims"]
    assert claims["index"]["articles"] == 20 and claims["short_claims"]["n"] == 8
    edits = claims["number_edits"]
    assert edits["n"] == 10 and sum(edits["edited_statuses"].values()) >= 10
    assert 0 <= edits["share_never_supported"] <= 1 and 0 <= edits["share_number_conflicting"] <= 1
    ix = res["indexing"]
    assert ix["articles"] == 10 and positive(ix["sentences"], ix["index_sentences_per_s"], ix["bare_sentences_per_s"])
    sc = res["scoring"]
    assert sc["articles"] == 2 and positive(sc["without_evidence_s"], sc["with_evidence_s"], sc["ratio"])
    assert set(sc["evidence_parts_s"]) == {"encode", "search", "claims", "features", "evidence_claims", "article_words"}
    assert sc["pool_10k_articles_sentences"] == 20_000 and positive(sc["ratio_10k_extrapolated"])
    assert positive(sc["peak_rss_gib_with_10k_index"])


def test_cpu_kinds_quick(tmp_path):
    res = quick("cpu_kinds", tmp_path)
    kinds = res["by_kind"]["kinds"]
    assert kinds and all(k["dtype"].startswith("torch.") for k in kinds.values())
    for pair in res["by_kind"]["pairs"].values():
        assert pair["n"] <= 2 and pair["max_abs_diff"] >= pair["mean_abs_diff"] >= 0
    assert res["threads_without_rule"]["n"] == 1
    tp = res["in_process_throughput"]
    assert tp["rounds"] == 1 and positive(*tp["articles_per_s_one_thread"], *tp["articles_per_s_two_threads"])
