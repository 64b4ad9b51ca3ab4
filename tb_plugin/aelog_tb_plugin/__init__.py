"""aelog's TensorBoard plugin: the "Collapse Diagnosis" tab.

Named ``aelog_tb_plugin`` so the importable package cannot clash with anything else in a
user's environment. TensorBoard finds it through the ``tensorboard_plugins`` entry point,
which points at the tiny :mod:`aelog_tb_plugin.loader`.
"""
