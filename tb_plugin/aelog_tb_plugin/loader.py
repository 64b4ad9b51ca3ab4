"""The entry point TensorBoard imports at start-up: tiny on purpose.

TensorBoard does not guard the import of an entry point, so an error here would stop
TensorBoard itself. The plugin (numpy, the diagnosis engine) is imported inside
``load()``, where TensorBoard logs a failure and carries on without the tab.
"""

from __future__ import annotations

from tensorboard.plugins import base_plugin

WARM_FLAG = "aelog_warm_cache"


class CollapseDiagnosisLoader(base_plugin.TBLoader):
    """Builds :class:`aelog_tb_plugin.plugin.CollapseDiagnosisPlugin` on demand."""

    def define_flags(self, parser) -> None:
        group = parser.add_argument_group("aelog")
        group.add_argument(
            f"--{WARM_FLAG}",
            type=lambda text: text.lower() not in ("false", "0", "no"),
            default=True,
            metavar="BOOL",
            help="Collapse Diagnosis tab: diagnose runs in the background as data arrives, "
            "so the tab opens without waiting (default: true).",
        )

    def load(self, context):
        from aelog_tb_plugin.plugin import CollapseDiagnosisPlugin

        warm = getattr(context.flags, WARM_FLAG, True) if context.flags else True
        return CollapseDiagnosisPlugin(context, warm_cache=warm)
