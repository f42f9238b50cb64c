"""The size guard (resgraph.graph.size) runs after the spec's own checks, in the graph's loader only."""

from __future__ import annotations

import pytest

from resgraph.errors import SpecError
from resgraph.graph import check_ref, load_spec
from resgraph.graph.size import MAX_PARAMS
from resgraph.spec import check_ref as spec_check_ref


def test_the_graph_loader_adds_the_guard_and_the_spec_loader_leaves_it_to_it(tmp_path):
    path = tmp_path / "wide.yaml"
    path.write_text("extends: resnet50\nname: wide\nstages: [{width: 64}, {width: 128}, {width: 256}, "
                    "{width: 60000}]\n")
    (err,) = check_ref(str(path)).errors
    assert (err.path, err.location.file, err.location.line) == (("stages",), str(path), 3)
    assert f"over the limit of {MAX_PARAMS:,}" in err.message
    with pytest.raises(SpecError, match="parameters"):
        load_spec(path)
    assert spec_check_ref(str(path)).errors == []  # the spec package checks fields; sizes are counted on the graph


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnet110", "resnext50_32x4d", "preact_resnet164",
                                  "seresnet50"])
def test_the_estimate_from_two_blocks_a_stage_is_the_whole_graphs_count(name):
    """Exact, as its docstring says (it used to count one block per stage twice: resnet18 at 17,960,232)."""
    from resgraph.graph import compile_spec, run_passes
    from resgraph.graph.ir import ACT_BYTES, PARAMS
    from resgraph.graph.size import estimate_size

    spec = load_spec(name)
    g = run_passes(compile_spec(spec))
    assert estimate_size(spec) == (g.graph[PARAMS], sum(a[ACT_BYTES] for _, a in g.nodes(data=True)
                                                       if a["op"] != "output"))
