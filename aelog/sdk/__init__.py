"""The training-side runtime: ``monitor`` (what ``aelog.watch`` returns) and its parts: the
schedule (``cadence``), the hooks' helpers (``backward_end``, ``skipped_steps``,
``loss_scale``, ``wrappers``, ``distributed``), reading the model and its outputs
(``model_inspect``, ``outputs``, ``watch_args``, ``tensor_utils``), keeping training
unbroken (``probe_guard``; what a probe forward puts back: ``aelog.probes.state``), the
run's metadata (``run_metadata``) and the live warning (``live_alert``)."""
