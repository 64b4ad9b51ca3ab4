/** The JSON the plugin's routes answer (tb_plugin/aelog_tb_plugin/http_api.md). */

export type Status = "healthy" | "at_risk" | "collapsed" | "unknown";

export interface Cause {
  id: string;
  confidence: number;
  since_step: number | null;
  evidence: string[];
  fix: string;
}

export interface RunRow {
  run: string;
  status: Status;
  since_step: number | null;
  causes: Cause[];
  symptom: string[];
  notes: string[];
  tags: Record<string, string>;
  team: string | null;
  path_group: string;
  last_step: number | null;
  /** what the run's close() recorded; null while it trains, or if it never closed */
  trained: Trained | null;
  key_signals: Record<string, number | null>;
  config: Record<string, string | number | boolean | null>;
  problems: string[];
}

export interface Trained {
  steps: number;
  logging_steps: number;
  logging_overhead: number;
  /** the step at which close() measured the run's end; absent for older runs */
  final_step?: number;
  /** logging's whole cost in seconds; absent for older runs */
  logging_seconds?: number;
  /** logging points that measured the error and spread alone (the budget did not pay for
   * every signal); absent for older runs */
  headline_only?: number;
  /** logging points an older version's cadence skipped to keep within its budget */
  thinned?: number;
}

export interface SeriesJson {
  steps: number[];
  values: (number | null)[];
}

export interface Band {
  low: number | null;
  high: number | null;
  label: string;
}

export interface RunDetail {
  run: RunRow;
  signals: Record<string, SeriesJson>;
  layers: { name: string; signals: Record<string, SeriesJson> }[];
  bands: Record<string, Band>;
  records: Record<string, unknown>[];
  metadata: Record<string, unknown>;
}

export interface ConfigDifference {
  key: string;
  a: unknown;
  b: unknown;
}

export interface Pair {
  runs: [string, string];
  config_differences: ConfigDifference[];
  signals_part_at_step: number | null;
  diverging_signals: { signal: string; step: number; a: number | null; b: number | null }[];
}

export interface Comparison {
  runs: string[];
  pairs: Pair[];
}
