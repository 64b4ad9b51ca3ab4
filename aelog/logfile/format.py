"""The on-disk format in one place: plugin name, tag names, signal names, versions.

The SDK writer, the event-file reader, the TensorBoard plugin and the diagnosis engine
all take names from here, so a rename happens once. Numpy-free and torch-free on purpose:
everything may import it.

Layout of one run directory (standard TensorBoard event files):

* time series are ordinary scalars (``simple_value``) tagged ``collapse/<signal>``, one
  Event per logging step holding all values of that step; stock TensorBoard shows them in
  its Scalars tab and keeps 1,000 points per series in both loaders;
* per-layer series are scalars tagged ``collapse/layer/<module.name>/<layer signal>``;
* run metadata is one JSON string tensor at ``METADATA_TAG`` written at the first step,
  carrying ``plugin_name = "aelog"`` and ``data_class = DATA_CLASS_TENSOR``;
* small records (probe failures, warnings raised in the run, and at ``close()`` the steps
  trained: ``CLOSED_RECORD``) are JSON string tensors at ``RECORD_TAG``, same plugin name;
* the engine's verdict on the finished run is one JSON string tensor at ``VERDICT_TAG``,
  written by ``close()`` (see ``VERDICT_FIELDS``).
"""

from __future__ import annotations

import json

PLUGIN_NAME = "aelog"
FORMAT_VERSION = 1

SCALAR_PREFIX = "collapse/"
LAYER_PREFIX = "collapse/layer/"
METADATA_TAG = "aelog/run_metadata"
RECORD_TAG = "aelog/record"
VERDICT_TAG = "aelog/verdict"
"""The verdict travels with the run: readers take it instead of running the engine again
while it still describes the run (its ``engine`` is the engine reading it, its ``step``
the run's last step). A tag of its own, so a reader can fetch it alone, and so
TensorBoard's loaders, which sample a tag's tensors, always keep it (the newest is kept)."""
VERDICT_FIELDS = ("engine", "step", "diagnosis")
"""``engine``: :func:`aelog.diagnosis.version.engine_version`; ``step``: the last step
logged when it was made; ``diagnosis``: ``Diagnosis.to_json()``. Optional:
``last_values`` (each headline signal's last value) and ``row`` (``VERDICT_ROW_FIELDS``)."""
VERDICT_ROW_FIELDS = ("tags", "config", "trained")
"""what a run list shows besides the verdict, copied from the metadata and the closed
record into the verdict, so a reader of finished runs reads one tensor (or a file's last
kilobytes) a run: ``tags`` and ``config`` as in the metadata, ``trained`` as
``RunData.trained`` (None when not recorded)."""
CLOSED_RECORD = "closed"
"""the record ``close()`` writes, with CLOSED_FIELDS: ``steps`` trained, ``logging_steps``,
and ``logging_overhead`` (logging's share of the time since ``watch()``)."""
NONFINITE_RECORD = "nonfinite"
"""the record of the first NaN/Inf seen in a training forward: ``first_step`` (and
``last_step``, the end of the span of steps it is dated to; equal for one step),
``where`` (``inputs`` or ``outputs``), and the modules whose ``weights`` and
``gradients`` held NaN/Inf at the logging step that found it; ``checked_every`` where
the watch checked only every k-th step (cheap steps), so a bad batch between two checks
would not show."""
CLOSED_FIELDS = ("steps", "logging_steps", "logging_overhead")
CLOSED_OPTIONAL_FIELDS = ("final_step", "logging_seconds", "headline_only", "thinned")
"""also in the closed record where known: ``final_step``, the step at which the run's end
was measured (the state after its last update), ``logging_seconds``, logging's whole
cost, and ``headline_only``, the logging points that measured the headline signals alone
(the error, the outputs' spread, finiteness), where the budget did not pay for every
signal; runs closed by older versions lack them, and some of those have ``thinned``
instead: the logging points their cadence skipped to keep within its budget."""

# Signal names (the tag is SCALAR_PREFIX + name). Each is measured on a training batch at
# a logging step unless its comment says otherwise.

# -- symptom ---------------------------------------------------------------------------
OUTPUT_VARIANCE_RATIO = "output_variance_ratio"
"""sum over features of batch variance of outputs / same for targets (1 = full spread)."""
RELATIVE_ERROR = "relative_error"
"""mean squared reconstruction error / that of predicting the batch mean (1 = no better)."""
RANK_K_ERROR = "rank_k_error"
"""best relative error any rank-k linear code reaches on the same batch (k = code size)."""
DATA_EFFECTIVE_RANK = "data_effective_rank"
"""effective rank of the target batch (how much low-dimensional structure the data has)."""
IDENTITY_RATIO = "identity_ratio"
"""relative error on matched random inputs / relative error on data (near 1: identity-like)."""
RANDOM_INPUT_ERROR = "random_input_error"
"""relative error when reconstructing matched random inputs (eval mode, own generator)."""
NONFINITE_OUTPUT_FRACTION = "nonfinite_output_fraction"
OUTPUT_MIN = "output_min"
OUTPUT_MAX = "output_max"
TARGET_MIN = "target_min"
TARGET_MAX = "target_max"
TARGET_MEAN = "target_mean"
TARGET_STD = "target_std"
RECON_MSE = "recon_mse"
"""mean squared error between outputs and targets (our own measure, not the user's loss)."""
LOSS_GRADIENT_ALIGNMENT = "loss_gradient_alignment"
"""cosine between the loss's gradient on the output and the derivative of the per-value
loss that fits it best (squared error, BCE on probabilities or logits, absolute error; for
tokens, cross-entropy's softmax(output) - one_hot(target)): near 0 when the loss does not
compare the output with its target."""
RECON_TERM_WEIGHT = "recon_term_weight"
"""the loss's weight on each output value, times the batch size (from the gradient on the
output): 1 when the reconstruction term is summed over a sample's values, 1/n averaged."""
RECON_TERM_FIT = "recon_term_fit"
"""cosine between the gradient on the output and the best per-value loss's derivative."""
RECON_LOSS_FORM = "recon_loss_form"
"""which per-value loss fits the gradient on the output best: 0 squared error, 1 BCE on
logits (the output is logits), 2 absolute error, 3 BCE on probabilities."""
KL_TERM_WEIGHT = "kl_term_weight"
"""VAE: the analytic KL's weight on each latent dimension, times the batch size (from the
gradients on mu and log-variance): 1 when summed over dimensions, 1/k averaged."""
KL_TERM_FIT = "kl_term_fit"
"""cosine of that fit: near 1 when the decoder sends (almost) nothing back through z."""

# -- token reconstructions (logits over classes against integer targets) -------------------
TOKEN_CROSS_ENTROPY = "token_cross_entropy"
"""mean cross-entropy per token, in nats (our own measure on the batch)."""
TOKEN_UNIGRAM_ENTROPY = "token_unigram_entropy"
"""entropy of the batch's token frequencies: the cross-entropy of ignoring the input."""
TOKEN_ACCURACY = "token_accuracy"
"""share of positions whose most likely class is the target token."""
TOKEN_MAJORITY_ACCURACY = "token_majority_accuracy"
"""share of positions holding the batch's most common token: always answering it."""

# -- code (the bottleneck's output, or mu for a VAE) --------------------------------------
CODE_EFFECTIVE_RANK = "code_effective_rank"
"""exp(entropy of normalised singular values of the centred code batch), Roy & Vetterli."""
CODE_VARIANCE = "code_variance"
"""mean over code dimensions of the batch variance."""
CODE_DEAD_FRACTION = "code_dead_fraction"
"""fraction of code dimensions with (near) zero variance over the batch."""
CODE_UNIT_SIMILARITY = "code_unit_similarity"
"""median over code dimensions of the largest |cosine| with another dimension (1 = copies)."""
CODE_IDENTICAL_FRACTION = "code_identical_fraction"
"""fraction of code dimensions that duplicate another one (|cosine| > 0.999)."""
KL_PER_DIM = "kl_per_dim"
"""VAE: mean over latent dimensions of the batch-mean KL(q(z|x) || N(0, I))."""
KL_MAX_DIM = "kl_max_dim"
"""VAE: the largest per-dimension KL."""
ACTIVE_UNITS_FRACTION = "active_units_fraction"
"""VAE: fraction of dims with Var_x(mu) > 0.01 (Burda et al. 2015)."""

# -- optimisation and regularisation --------------------------------------------------------
LR = "lr"
WEIGHT_DECAY = "weight_decay"
GRAD_NORM = "grad_norm"
WEIGHT_NORM = "weight_norm"
UPDATE_RATIO = "update_ratio"
"""||w_after - w_before|| / ||w_before|| over all trained parameters for one step."""
REGULARIZATION_PULL = "regularization_pull"
"""size of the weight-decay force / size of the loss gradient (>1: decay dominates)."""
GRAD_WEIGHT_COSINE = "grad_weight_cosine"
"""cosine between the gradient and the weights: near 1 means an L2 penalty dominates."""
FROZEN_FRACTION = "frozen_fraction"
"""fraction of parameters (by count) that did not change since the previous logging step."""
NONFINITE_GRAD_FRACTION = "nonfinite_grad_fraction"
NONFINITE_WEIGHT_FRACTION = "nonfinite_weight_fraction"
SKIPPED_STEPS = "skipped_steps"
"""optimizer steps skipped so far (e.g. by a GradScaler on inf/NaN)."""
GRAD_NORM_BEFORE_CLIP = "grad_norm_before_clip"
"""gradient norm as backward left it (unscaled), before any clipping the loop applies."""
GRAD_CLIPPED = "grad_clipped"
"""1 when the loop scaled the gradient down between backward and the step (clipping), else 0."""
LOSS_SCALE = "loss_scale"
"""the scale of the GradScaler that drove this step (mixed precision), when one was found."""

# -- data -----------------------------------------------------------------------------------
INPUT_STD = "input_std"
INPUT_BATCH_VARIANCE = "input_batch_variance"
"""mean over features of the input's variance across the batch."""
INPUT_DUPLICATE_FRACTION = "input_duplicate_fraction"
"""fraction of samples in the batch identical to another sample of the batch."""
INPUT_SAME_AS_PREVIOUS = "input_same_as_previous"
"""1 when this logged batch equals the previous logged batch, else 0."""

# -- validation (forwards made in eval mode) ---------------------------------------------------
VAL_RELATIVE_ERROR = "val_relative_error"
VAL_OUTPUT_VARIANCE_RATIO = "val_output_variance_ratio"

# -- aelog itself ----------------------------------------------------------------------------
LOGGING_OVERHEAD = "logging_overhead"
"""share of wall time since watch() spent in aelog's logging so far (the cost promise)."""

# -- per layer (tag LAYER_PREFIX + "<module.name>/" + name) ----------------------------------
LAYER_ACTIVATION_STD = "activation_std"
LAYER_ACTIVATION_MEAN_ABS = "activation_mean_abs"
LAYER_DEAD_FRACTION = "dead_fraction"
"""units whose output is <= 0 for every sample of the batch (dead under a ReLU)."""
LAYER_SATURATED_FRACTION = "saturated_fraction"
"""tanh/sigmoid units within 2% of a limit for more than 95% of the batch."""
LAYER_SATURATED_VALUES = "saturated_values"
"""share of a tanh/sigmoid layer's values (units x samples) within 2% of either limit:
each passes back under 8% of the gradient. Units that swing between the two limits from
sample to sample (large inputs, both signs) count here, not as pinned."""
LAYER_GRAD_NORM = "grad_norm"
LAYER_WEIGHT_NORM = "weight_norm"
LAYER_UPDATE_RATIO = "update_ratio"
LAYER_UNIT_SIMILARITY = "unit_similarity"
"""median over output units (weight rows) of the largest |cosine| with another row."""

LAYER_SIGNALS = (
    LAYER_ACTIVATION_STD,
    LAYER_ACTIVATION_MEAN_ABS,
    LAYER_DEAD_FRACTION,
    LAYER_SATURATED_FRACTION,
    LAYER_SATURATED_VALUES,
    LAYER_GRAD_NORM,
    LAYER_WEIGHT_NORM,
    LAYER_UPDATE_RATIO,
    LAYER_UNIT_SIMILARITY,
)


def scalar_tag(signal: str) -> str:
    return SCALAR_PREFIX + signal


def layer_tag(layer: str, signal: str) -> str:
    if "/" in layer:
        raise ValueError(f"layer name {layer!r} must not contain '/'")
    return f"{LAYER_PREFIX}{layer}/{signal}"


def parse_scalar_tag(tag: str) -> tuple[str | None, str] | None:
    """``collapse/x`` -> (None, "x"); ``collapse/layer/enc.0/x`` -> ("enc.0", "x")."""
    if tag.startswith(LAYER_PREFIX):
        rest = tag[len(LAYER_PREFIX) :]
        layer, sep, signal = rest.rpartition("/")
        if not sep or not layer or not signal:
            return None
        return layer, signal
    if tag.startswith(SCALAR_PREFIX):
        signal = tag[len(SCALAR_PREFIX) :]
        return (None, signal) if signal and "/" not in signal else None
    return None


def plugin_content(kind: str) -> bytes:
    """The ``PluginData.content`` of our tensors: which record kind, which format version."""
    return json.dumps({"version": FORMAT_VERSION, "kind": kind}).encode()


def parse_plugin_content(content: bytes) -> dict:
    """Inverse of :func:`plugin_content`; unknown or broken content gives ``{}``."""
    try:
        value = json.loads(content.decode() or "{}")
    except (UnicodeDecodeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


METADATA_KEYS = """
Run metadata (JSON at METADATA_TAG, written once at the first logging step):

    format_version  int, FORMAT_VERSION
    aelog_version, torch_version, host, pid, start_time (ISO 8601, UTC)
    run_name        str
    tags            {str: str}   user tags, e.g. {"team": "vision", "owner": "ana"}
    config          flat {str: scalar} for comparing runs; at least: optimizer, lr,
                    weight_decay, decoupled_weight_decay, latent_size, input_size,
                    batch_size, init, output_activation, is_vae, parameters_trainable,
                    dropout (max p seen), architecture ("mlp" | "conv" | "recurrent")
    model           {class, summary, parameters_total, parameters_trainable,
                    parameters_in_optimizer, input_shape, output_shape, latent_module,
                    latent_size, is_vae, output_activation,
                    token_classes (classes per position when the output is scores
                    over classes for integer targets, else null),
                    layers: [{name, type, parameters, trainable, in_optimizer,
                              weight_std, weight_std_over_default, identical_rows_fraction}],
                    activations: [{name, type}], dropout: [{name, p}]}
    optimizer       {class, lr, weight_decay, decoupled_weight_decay, betas, momentum}
                    or null when watch() was given no optimizer
    cadence         {overhead_budget, ...}
"""
