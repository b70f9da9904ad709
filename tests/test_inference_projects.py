"""Multi-file mini-projects: conventions inferred from the host code that writes the padding, cited in messages."""
from __future__ import annotations

import json

import pytest

from helpers import PROJECTS, check_json, cli, copy_tree, found, project_markers

PROJECT_NAMES = ["gdn_null_block", "mamba_pad_slot", "mixed", "constexpr_null_block", "broken_chain", "with_tests",
                 "configured", "multi_backend", "untraced_padding", "launch_alias", "engine_plugin"]

# (path, line) of a finding → text its message must contain (the producer it was judged against).
CITES = {
    "gdn_null_block": {("gdn/ops.py", 11): "written at gdn/metadata.py:19",
                       ("gdn/ops.py", 14): "written at gdn/metadata.py:19"},
    "mamba_pad_slot": {("mamba/ops.py", 34): "`slot <= 0` rejects real id 0 as padding, written at mamba/metadata.py:19"},
    "constexpr_null_block": {("ssm/ops.py", 14): "`state_idx == pad_slot_id` lets NULL_BLOCK_ID (0) through as a real "
                                                 "slot, written at ssm/ops.py:40; the constant is a name"},
    "broken_chain": {("lin/ops.py", 11): "(assumed: rule pack null-block-id; no padding producer found for `state_indices`)"},
    "configured": {("sg/ops.py", 12): "convention for `req_pool_indices` set in",
                   ("sg/ops.py", 14): "lets EMPTY_SLOT (-1) through"},
    "multi_backend": {("eng/ops.py", 12): "lets PAD_SLOT_ID (-1) through as a real slot, written at eng/backend.py:11",
                      ("eng/ops.py", 25): "lets 0 through as a real slot, written at eng/layer.py:14",
                      ("eng/hardware/npu/npu_ops.py", 9): "written at eng/hardware/npu/npu_backend.py:8"},
    "untraced_padding": {("eng/ops.py", 24): "`sid <= 0` rejects real id 0 as padding (assumed for `state_idx_ptr`: no padding "
                                             "producer found; this project pads this kind of tensor with -1 "
                                             "elsewhere (not traced to a kernel), e.g. eng/graph_buffers.py:7)"},
    "launch_alias": {("lib/recurrent.py", 18): "(assumed: rule pack null-block-id; launched with `initial_state_indices` at "
                                               "lib/recurrent.py:35; no padding producer found for `h0_indices`)"},
    "engine_plugin": {("plugin/conv.py", 14): "`coord != pad_slot_id` lets NULL_BLOCK_ID (0) through as a real slot, "
                                              "written at plugin/builder.py:11",
                      ("plugin/conv.py", 22): "`coord != pad` lets NULL_BLOCK_ID (0) through"},
    "mixed": {("engine/kernels.py", 6): "PAD_SLOT_ID (-1) at engine/runner.py:16; NULL_BLOCK_ID (0) at "
                                        "engine/runner.py:11"},
}


def conventions(root):
    res = cli("conventions", "--output-format", "json", "--no-cache", root)
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["schema"] == "sentinel-lint-conventions/1"
    return {(p["path"], p["kernel"], p["param"]): p for p in doc["parameters"]}


def chain_text(param) -> list[str]:
    return [f"{e['path']}:{e['line']}: {e['what']}" for e in param["convention"]["chains"][0]]


@pytest.mark.parametrize("name", PROJECT_NAMES)
def test_exact_findings(name):
    root = PROJECTS / name
    code, doc = check_json(root)
    assert doc["errors"] == []
    assert found(doc, with_path=True) == project_markers(root)
    assert code == (1 if project_markers(root) else 0)


@pytest.mark.parametrize("name", sorted(CITES))
def test_messages_cite_producer(name):
    _, doc = check_json(PROJECTS / name)
    messages = {(d["path"], d["line"]): d["message"] for d in doc["diagnostics"]}
    for where, text in CITES[name].items():
        assert text in messages[where], messages[where]


def test_checking_one_file_still_infers_from_whole_project():
    root = PROJECTS / "gdn_null_block"
    _, doc = check_json(root / "gdn" / "ops.py")
    assert found(doc, with_path=True) == project_markers(root)
    assert all("written at gdn/metadata.py:19" in d["message"] for d in doc["diagnostics"])


def test_related_evidence_is_the_chain():
    _, doc = check_json(PROJECTS / "gdn_null_block")
    d = next(d for d in doc["diagnostics"] if d["line"] == 11)
    assert d["convention"]["source"] == "inferred"
    assert d["convention"]["invalid"] == [0] and d["convention"]["real_min"] == 1
    assert d["related"][0] == {"path": "gdn/metadata.py", "line": 19, "by_name": False,
                               "what": "state_indices[num_decodes:].fill_(NULL_BLOCK_ID)"}


def test_conventions_chain_through_field_alias_slice_apply_wrapper_launch():
    params = conventions(PROJECTS / "gdn_null_block")
    p = params[("gdn/ops.py", "fused_recurrent_kernel", "ssm_state_indices")]
    assert p["source"] == "inferred"
    assert p["convention"]["name"] == "NULL_BLOCK_ID"
    assert chain_text(p) == [
        "gdn/metadata.py:19: state_indices[num_decodes:].fill_(NULL_BLOCK_ID)",
        "gdn/metadata.py:23: GDNAttentionMetadata(state_indices=...)",
        "gdn/layer.py:9: attn_metadata.state_indices",
        "gdn/layer.py:10: indices[:n]",
        "gdn/layer.py:11: call forward(...) binds ssm_state_indices",
        "gdn/ops.py:42: call fused_recurrent(ssm_state_indices=...)",
        "gdn/ops.py:30: launch fused_recurrent_kernel(...) binds ssm_state_indices",
        "gdn/ops.py:8: kernel fused_recurrent_kernel parameter ssm_state_indices",
    ]
    q = params[("gdn/ops.py", "conv_update_kernel", "first_blocks")]
    assert chain_text(q) == [
        "gdn/metadata.py:22: block_table[num_decodes:] = NULL_BLOCK_ID",
        "gdn/metadata.py:23: GDNAttentionMetadata(block_table=...)",
        "gdn/layer.py:12: call conv_update(...) binds block_table",
        "gdn/ops.py:35: block_table[:, 0]",
        "gdn/ops.py:36: launch conv_update_kernel(first_blocks=...)",
        "gdn/ops.py:21: kernel conv_update_kernel parameter first_blocks",
    ]


def test_conventions_pad_slot_project():
    params = conventions(PROJECTS / "mamba_pad_slot")
    slot = params[("mamba/ops.py", "write_cache_kernel", "slot_mapping")]
    assert slot["source"] == "inferred"
    assert (slot["convention"]["invalid"], slot["convention"]["real_min"]) == ([-1], 0)
    assert chain_text(slot)[0] == "mamba/metadata.py:19: F.pad(slots, (0, pad), value=PAD_SLOT_ID)"
    ssu = params[("mamba/ops.py", "selective_state_update_kernel", "state_batch_indices")]
    assert chain_text(ssu)[0].startswith("mamba/metadata.py:18: torch.where(")
    assert "mamba/mixer.py:7: meta.state_indices_tensor[:num_decodes]" in chain_text(ssu)
    conv = params[("mamba/ops.py", "conv_cache_kernel", "cache_indices")]
    assert chain_text(conv)[0].startswith("mamba/metadata.py:20: torch.full(")


def test_mixed_producers_reach_one_param():
    params = conventions(PROJECTS / "mixed")
    p = params[("engine/kernels.py", "step_kernel", "state_indices")]
    assert p["convention"]["invalid"] == [-1, 0]
    assert sorted(m["value"] for m in p["mixed"]) == [-1, 0]
    firsts = sorted(f"{m['chain'][0]['path']}:{m['chain'][0]['line']}" for m in p["mixed"])
    assert firsts == ["engine/runner.py:11", "engine/runner.py:16"]


def test_broken_chain_is_pack_default():
    params = conventions(PROJECTS / "broken_chain")
    p = params[("lin/ops.py", "lightning_decode_kernel", "state_indices")]
    assert p["source"] == "pack"
    assert p["convention"]["origin"] == "rule pack null-block-id; no padding producer found"
    assert p["convention"]["chains"] == []


def test_untraced_project_padding_beats_another_engines_pack():
    """No chain reaches the kernels (the buffers go by dictionary key), but the project pads its state-id buffers
    with -1: that, not the null-block pack's 0, is what `sid < 0` is judged against."""
    params = conventions(PROJECTS / "untraced_padding")
    p = params[("eng/ops.py", "update_state_kernel", "state_idx_ptr")]
    assert p["source"] == "project"
    assert (p["convention"]["invalid"], p["convention"]["real_min"]) == ([-1], 0)
    assert chain_text(p) == ["eng/graph_buffers.py:7: torch.full((max_batches,), -1, dtype=torch.int64, device=device)"]


def test_parameter_known_by_the_index_tensor_it_is_launched_with():
    """`h0_indices` says nothing of its kind; `h0_indices=initial_state_indices` at its launch does.  A parameter
    launched with tensors of two kinds, or with an index tensor only by a test, or never loaded through (a flag
    launched with `has_initial_state_indices`), is left alone."""
    params = conventions(PROJECTS / "launch_alias")
    p = params[("lib/recurrent.py", "recurrent_update_kernel", "h0_indices")]
    assert p["launched_as"] == "initial_state_indices"
    assert (p["source"], p["convention"]["invalid"], p["convention"]["real_min"]) == ("pack", [0], 1)
    assert ("lib/recurrent.py", "recurrent_update_kernel", "USE_H0") not in params  # a flag: nothing loaded through it
    assert ("lib/recurrent.py", "gather_rows_kernel", "src") not in params
    assert ("lib/recurrent.py", "probe_kernel", "t") not in params


def test_engine_constants_from_outside_the_tree(tmp_path):
    """A plugin imports NULL_BLOCK_ID and PAD_SLOT_ID from an engine that is not in the tree: their values come from
    rules/_engine_constants.toml.  Where the tree holds that module itself, its own definitions win."""
    params = conventions(PROJECTS / "engine_plugin")
    p = params[("plugin/conv.py", "conv_update_kernel", "conv_state_indices")]
    assert (p["source"], p["convention"]["name"], p["convention"]["invalid"]) == ("inferred", "NULL_BLOCK_ID", [0])
    root = copy_tree(PROJECTS / "engine_plugin", tmp_path / "engine_plugin")
    engine = root / "vllm" / "v1" / "attention" / "backends"
    engine.mkdir(parents=True)
    for part in (root / "vllm", root / "vllm" / "v1", root / "vllm" / "v1" / "attention", engine):
        (part / "__init__.py").write_text("")
    (engine / "utils.py").write_text("PAD_SLOT_ID = 0\nNULL_BLOCK_ID = 0\n")  # a fork that pads everything with 0
    _, doc = check_json(root)
    assert found(doc, with_path=True) == set()


def test_configured_convention_is_config():
    params = conventions(PROJECTS / "configured")
    p = params[("sg/ops.py", "gather_req_kernel", "state_indices")]
    assert p["source"] == "config"
    assert (p["convention"]["name"], p["convention"]["invalid"], p["convention"]["real_min"]) == ("EMPTY_SLOT", [-1], 0)


def test_constexpr_sentinel_bound_through_wrapper_default_is_resolved():
    # mamba_pad_slot: `state_idx == pad_slot_id` with pad_slot_id bound to PAD_SLOT_ID (-1) by the wrapper's
    # default and the tensor padded with -1: right, not reported (see test_exact_findings).  The same guard with
    # the tensor padded with NULL_BLOCK_ID is reported, and only the launch-bound one (null_block_id) is right.
    _, doc = check_json(PROJECTS / "constexpr_null_block")
    assert {d["line"] for d in doc["diagnostics"]} == {14}
    assert not doc["diagnostics"][0]["fixable"]


def test_test_directories_do_not_produce_conventions():
    params = conventions(PROJECTS / "with_tests")
    p = params[("kv/cache.py", "store_kv_kernel", "slot_mapping")]
    assert p["source"] == "inferred" and p["convention"]["invalid"] == [-1]
    assert all(not e["path"].startswith("kv/tests/") for chain in p["convention"]["chains"] for e in chain)


def test_test_directories_count_when_infer_exclude_is_emptied(tmp_path):
    root = copy_tree(PROJECTS / "with_tests", tmp_path / "with_tests")
    with open(root / "pyproject.toml", "a", encoding="utf-8") as fh:
        fh.write("\n[tool.sentinel-lint]\ninfer-exclude = []\n")
    _, doc = check_json(root)
    assert ("kv/cache.py", 10, "SL003") in found(doc, with_path=True)
    assert "0 at kv/tests/test_cache.py:9" in doc["diagnostics"][0]["message"]


def test_no_infer_falls_back_to_pack():
    _, doc = check_json("--no-infer", PROJECTS / "mamba_pad_slot")
    msgs = [d["message"] for d in doc["diagnostics"]]
    assert msgs and all("inference off" in m for m in msgs)


def test_padding_written_for_one_accelerator_stays_with_its_backend():
    """The NPU backend pads the shared metadata field with 0; generic code reads that field by name, so the 0 would
    reach the generic kernel only through a by-name link out of NPU code: it does not, and no SL003 mix is made."""
    params = conventions(PROJECTS / "multi_backend")
    generic = params[("eng/ops.py", "_recurrent_kernel", "cache_indices")]
    assert generic["source"] == "inferred" and generic["mixed"] == []
    assert generic["convention"]["invalid"] == [-1]
    assert not any("npu" in e["path"] for chain in generic["convention"]["chains"] for e in chain)
    npu = params[("eng/hardware/npu/npu_ops.py", "_npu_kernel", "cache_indices")]
    assert npu["convention"]["invalid"] == [0]
    assert chain_text(npu)[0] == "eng/hardware/npu/npu_backend.py:8: mamba_indices[bs - num_padding:] = 0"


def test_where_with_zeros_like_pads_the_rows_it_picks():
    params = conventions(PROJECTS / "multi_backend")
    p = params[("eng/ops.py", "short_conv_update", "state_indices")]
    assert p["convention"]["invalid"] == [0]
    assert chain_text(p)[0] == "eng/layer.py:14: torch.where(valid, state_indices, torch.zeros_like(state_indices))"


def test_fields_are_linked_by_name_only_for_index_tensor_names():
    """`CandidateBlocks(ids=F.pad(..., value=-1))` does not reach a kernel through some other object's `.ids`; with the
    project split between -1 and 0 for this kind of tensor, the parameter stays unknown rather than take a pack's
    guess."""
    params = conventions(PROJECTS / "multi_backend")
    p = params[("eng/ops.py", "page_kernel", "block_table")]
    assert p["convention"] is None
    assert p["source"] == "unknown: no padding producer found; this project pads this kind of tensor with -1/0 alike"
    res = cli("conventions", "--no-cache", PROJECTS / "multi_backend")
    assert "page_kernel(block_table): unknown: no padding producer found" in res.stdout
