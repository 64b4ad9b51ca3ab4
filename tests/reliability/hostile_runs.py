"""A logdir of hostile runs as a shared logdir may hold them: markup in names, tags, layer
names and records; metadata of the wrong shape; odd numbers; older and newer formats."""

from __future__ import annotations

import math
import os

from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2

from aelog.logfile import format as fmt
from aelog.logfile.event_writer import EventWriter

from .event_files import write_small_run
from .hostile import MARKUP, ODD_NUMBERS

MARKUP_RUN = "team/<script>window.__pwned=1</script>"
"""a run name holding a script tag: the '/' in '</script>' makes it two directories."""
MARKUP_TEAM = "<img src=x onerror=window.__pwned=1>"
MARKUP_LAYER = "<svg onload=window.__pwned=1>"

BAD_METADATA = {
    "no_format_version": {"config": {"lr": 0.1}},
    "format_0": {"format_version": 0, "config": {"lr": 0.1}},
    "format_99": {"format_version": 99, "config": {"lr": 0.1}},
    "format_text": {"format_version": "1"},
    "format_true": {"format_version": True},
    "format_huge": {"format_version": 1e308},
    "config_list": {"format_version": 1, "config": [1, 2], "model": "x", "optimizer": 5},
    "config_wrong_types": {"format_version": 1, "config": {
        "lr": "fast", "latent_size": "eight", "input_size": -5, "batch_size": None,
        "weight_decay": [1], "init": {"a": 1}, "is_vae": "yes"}},
    "config_nan": {"format_version": 1, "config": {"lr": math.nan, "latent_size": math.inf,
                                                     "input_size": 0}},
    "model_wrong_shapes": {"format_version": 1, "model": {
        "layers": [None, 1, "x", {"name": 5}, {"name": None, "weight_std_over_default": "x"}],
        "activations": "relu", "dropout": {"p": 2}, "latent_size": -1, "is_vae": "no",
        "output_activation": ["sigmoid"]}},
    "tags_list": {"format_version": 1, "tags": [1, 2]},
    "tags_nested": {"format_version": 1, "tags": {"team": {"x": [1, {"y": None}]}}},
}


def _raw_json_event(step: int, tag: str, text: bytes) -> event_pb2.Event:
    """A string tensor under our plugin name holding any bytes (not necessarily JSON)."""
    value = summary_pb2.Summary.Value(
        tag=tag,
        tensor=tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=[text]),
        metadata=summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(
                plugin_name=fmt.PLUGIN_NAME, content=b"\xff not json"),
            data_class=summary_pb2.DATA_CLASS_TENSOR),
    )
    return event_pb2.Event(step=step, wall_time=1.0, summary=summary_pb2.Summary(value=[value]))


def write_hostile_logdir(logdir: str) -> list[str]:
    """Every hostile run under ``logdir``; returns their run names."""
    names = []

    def add(name: str, **kwargs) -> str:
        write_small_run(os.path.join(logdir, *name.split("/")), **kwargs)
        names.append(name)
        return name

    for key, metadata in BAD_METADATA.items():
        add(f"metadata/{key}", metadata=metadata)
    add(MARKUP_RUN, metadata={"format_version": 1, "run_name": MARKUP_RUN,
                              "tags": {"team": MARKUP_TEAM, MARKUP[0]: MARKUP[1]},
                              "config": {"optimizer": MARKUP[2], "lr": 0.5, "init": MARKUP[3]}})

    markup_records = os.path.join(logdir, "markup", "records")
    writer = EventWriter(markup_records)
    writer.write_metadata({"format_version": 1, "tags": {"team": MARKUP_TEAM},
                           "model": {"layers": [{"name": MARKUP_LAYER}]}})
    for step in range(0, 300, 10):
        writer.write_scalars(step, {
            fmt.scalar_tag(fmt.OUTPUT_VARIANCE_RATIO): 0.01,
            fmt.scalar_tag(fmt.RELATIVE_ERROR): 0.99,
            fmt.layer_tag(MARKUP_LAYER, fmt.LAYER_DEAD_FRACTION): 1.0,
            fmt.layer_tag(MARKUP_LAYER, fmt.LAYER_GRAD_NORM): 0.0,
            fmt.layer_tag(MARKUP_LAYER, fmt.LAYER_UPDATE_RATIO): 0.0,
        })
    for text in MARKUP:
        writer.write_record(300, {"kind": text, "probe": text, "error": text, "message": text})
    writer.close()
    names.append("markup/records")

    odd_numbers = os.path.join(logdir, "numbers", "odd")
    writer = EventWriter(odd_numbers)
    writer.write_metadata({"format_version": 1})
    for index, number in enumerate(ODD_NUMBERS * 3):
        step = [-5, 0, 2**62, 7][index % 4] + index
        writer.write_scalars(step, {fmt.scalar_tag(name): number for name in _ALL_SIGNALS})
    writer.close()
    names.append("numbers/odd")

    raw_dir = os.path.join(logdir, "metadata", "not_json")
    writer = EventWriter(raw_dir)
    for step, text in enumerate([b"\xff\xfe", b"[1, 2]", b"null", b"{" * 100_000,
                                 b"[" * 100_000 + b"]" * 100_000, b'{"a": ' * 5000]):
        writer._write_event(_raw_json_event(step, fmt.METADATA_TAG, text))
        writer._write_event(_raw_json_event(step, fmt.RECORD_TAG, text))
    writer.write_scalars(0, {fmt.scalar_tag(fmt.RELATIVE_ERROR): 0.5})
    writer.close()
    names.append("metadata/not_json")

    only_layers = os.path.join(logdir, "missing", "only_layers")
    writer = EventWriter(only_layers)
    for step in range(10):
        writer.write_scalars(step, {fmt.layer_tag("enc", fmt.LAYER_DEAD_FRACTION): 1.0})
    writer.close()
    names.append("missing/only_layers")
    add("missing/two_steps", steps=2)
    add("missing/metadata_only", steps=0)
    return sorted(names)


_ALL_SIGNALS = sorted(
    value for name, value in vars(fmt).items()
    if name.isupper() and isinstance(value, str) and not name.startswith(("LAYER_", "PLUGIN"))
    and value.isidentifier() and value not in fmt.LAYER_SIGNALS
)
"""every headline signal name format.py defines."""
