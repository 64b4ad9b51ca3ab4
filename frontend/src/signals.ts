/** Signal names as aelog/format.py writes them (the tag is "collapse/" + name). */

export const OUTPUT_VARIANCE_RATIO = "output_variance_ratio";
export const RELATIVE_ERROR = "relative_error";
export const RANK_K_ERROR = "rank_k_error";
export const CODE_EFFECTIVE_RANK = "code_effective_rank";

export const LAYER_DEAD_FRACTION = "dead_fraction";
export const LAYER_SATURATED_FRACTION = "saturated_fraction";
export const LAYER_GRAD_NORM = "grad_norm";
export const LAYER_UPDATE_RATIO = "update_ratio";
