"""What an engine must implement to run an exported graph: its op types (by opset domain, with
the ops inside subgraphs) and where tensor shapes depend on input values rather than on input
shapes.

A shape is data-dependent when it follows from a tensor's values: the frame count of an
acoustic model is ReduceMax(durations), and the Range built on it sizes everything after the
length regulator. Nodes are classified by a forward pass over the graph:

- value-derived: a tensor computed from the graph inputs' values (a Shape output is not: its
  values are dims, known once shapes are propagated);
- data-shaped: a tensor whose shape depends on some value-derived tensor.

Shape-giving inputs computed at run time (from Shape of a dynamic axis, or from data) are
listed too: an engine must evaluate them per run instead of at load time.

A node is a *source* when a shape-giving input (Range limits, Reshape/Expand/Tile/
ConstantOfShape shapes, Slice bounds, Pad pads, Split sizes) is value-derived: that is where
shape inference has to wait for data. Everything downstream merely inherits a runtime shape.

Usage: python -m amphora_export.op_report MODEL.onnx [--markdown]
"""

from __future__ import annotations

import argparse
import collections
import sys

import onnx

# Input positions that give the output's shape rather than its values.
SHAPE_INPUTS = {"Range": (0, 1, 2), "Reshape": (1,), "Expand": (1,), "Tile": (1,),
                "ConstantOfShape": (0,), "Slice": (1, 2, 3, 4), "Pad": (1,), "Split": (1,),
                "Resize": (1, 2, 3), "TopK": (1,), "OneHot": (1,), "Upsample": (1,)}
# Ops whose output shape is data-dependent whatever their inputs are.
ALWAYS_DATA_SHAPED = {"NonZero", "Unique", "Compress", "NonMaxSuppression", "Loop", "If",
                      "Scan"}


def _nodes(graph: onnx.GraphProto):
    """Every node, including those in subgraphs (If/Loop/Scan bodies)."""
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                yield from _nodes(attribute.g)
            for sub in attribute.graphs:
                yield from _nodes(sub)


def analyse(model: onnx.ModelProto) -> dict:
    graph = model.graph
    initialisers = {t.name for t in graph.initializer}
    value_derived = {i.name for i in graph.input if i.name not in initialisers}
    data_shaped: set = set()
    data_dims: set = set()  # computed from the dims of data-shaped tensors
    constants = set(initialisers)
    runtime_shaped = collections.Counter()  # shape-giving inputs computed while running
    ops = collections.Counter()
    sources = collections.Counter()
    shaped_ops = collections.Counter()
    for node in _nodes(graph):
        domain = node.domain or "ai.onnx"
        ops[(domain, node.op_type)] += 1
        inputs = [name for name in node.input if name]
        shape_positions = SHAPE_INPUTS.get(node.op_type, ())
        shape_inputs = [node.input[i] for i in shape_positions
                        if i < len(node.input) and node.input[i]]
        if node.op_type == "Constant":
            constants.update(node.output)
        if any(name not in constants for name in shape_inputs):
            runtime_shaped[node.op_type] += 1
        is_source = (node.op_type in ALWAYS_DATA_SHAPED
                     or any(name in value_derived for name in shape_inputs))
        if node.op_type == "Shape":
            # Its values are the input's dims: known once shapes have been propagated, so not
            # value-derived; but dims of a data-shaped tensor change with the data.
            if any(name in data_shaped for name in inputs):
                data_dims.update(node.output)
            continue
        if any(name in value_derived for name in inputs):
            value_derived.update(node.output)
        elif any(name in data_dims for name in inputs):
            data_dims.update(node.output)
        sized_by_data = any(name in data_dims for name in shape_inputs)
        if is_source or sized_by_data or any(name in data_shaped for name in inputs):
            data_shaped.update(node.output)
            shaped_ops[node.op_type] += 1
        if is_source:
            sources[node.op_type] += 1
    opsets = {(o.domain or "ai.onnx"): o.version for o in model.opset_import}
    return {"opsets": opsets, "ops": ops, "sources": sources, "data_shaped_ops": shaped_ops,
            "runtime_shape_inputs": runtime_shaped,
            "control_flow": sorted({op for _, op in ops} & {"If", "Loop", "Scan"})}


def render(report: dict, name: str, markdown: bool = False) -> str:
    opsets = ", ".join(f"{d} {v}" for d, v in sorted(report["opsets"].items()))
    ops = sorted(report["ops"].items(), key=lambda item: item[0][1])
    listing = ", ".join(f"{op} ({count})" if domain == "ai.onnx" else f"{domain}::{op} ({count})"
                        for (domain, op), count in ops)
    sources = ", ".join(f"{op} ({n})" for op, n in sorted(report["sources"].items())) or "none"
    shaped = ", ".join(f"{op} ({n})" for op, n in sorted(report["data_shaped_ops"].items()))
    lines = [f"{name}: opset {opsets}; {sum(report['ops'].values())} nodes, "
             f"{len(report['ops'])} op types",
             f"op types: {listing}",
             f"control flow: {', '.join(report['control_flow']) or 'none'}",
             f"data-dependent shape sources: {sources}",
             "shape-giving inputs computed at run time: "
             + (", ".join(f"{op} ({n})" for op, n in sorted(report["runtime_shape_inputs"]
                                                            .items())) or "none"),
             f"ops running on data-dependent shapes: {shaped or 'none'}"]
    if markdown:
        return "\n".join(f"- {line}" if i else f"### {line}" for i, line in enumerate(lines))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m amphora_export.op_report",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", metavar="MODEL.onnx")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    for path in args.models:
        print(render(analyse(onnx.load(path)), path, args.markdown))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
