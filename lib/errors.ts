/**
 * Typed errors. Every failure a user can cause or meet has its own class, carries the ids that
 * matter, and says on purpose whether retrying could help (Temporal reads `retryable`).
 */

/** Base class of every error attention-sweep raises on purpose. */
export class SweepError extends Error {
  /** Stable machine-readable code, e.g. `SPEC_INVALID`. */
  readonly code: string;

  /** Whether running the same work again could succeed (network blips: yes; bad input: no). */
  readonly retryable: boolean;

  /** A next step for the user, printed under the message. */
  readonly hint: string | undefined;

  constructor(
    message: string,
    options: { code: string; retryable?: boolean; hint?: string; cause?: unknown },
  ) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.retryable = options.retryable ?? false;
    this.hint = options.hint;
  }
}

/** One problem found in a sweep spec, located in the file. */
export interface SpecIssue {
  /** Dotted key path, e.g. `callbacks.earlyStopping.patience`; empty for the document. */
  path: string;
  message: string;
  /** 1-based line and column in the spec file, when known. */
  line?: number;
  column?: number;
}

/** A sweep spec that cannot be used. Holds every problem found, not only the first. */
export class SpecError extends SweepError {
  readonly file: string;
  readonly issues: SpecIssue[];

  constructor(file: string, issues: SpecIssue[]) {
    super(formatSpecIssues(file, issues), {
      code: 'SPEC_INVALID',
      hint: `Fix the spec, then check it with: sweep plan ${file}`,
    });
    this.file = file;
    this.issues = issues;
  }
}

/** Renders spec issues one per line as `file:line:column key: message`. */
export function formatSpecIssues(file: string, issues: SpecIssue[], what = 'sweep spec'): string {
  const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
  const lines = issues.map((issue) => {
    const where = issue.line === undefined ? file : `${file}:${issue.line}:${issue.column ?? 1}`;
    const key = issue.path === '' ? '' : ` ${issue.path}:`;
    return `  ${where}${key} ${issue.message}`;
  });
  return [`${count} in ${what} ${file}:`, ...lines].join('\n');
}

/** A dataset folder or image that cannot be used for training. */
export class DatasetError extends SweepError {
  /** Offending paths, when the problem is specific files. */
  readonly paths: string[];

  constructor(message: string, options: { paths?: string[]; hint?: string; cause?: unknown } = {}) {
    super(message, { code: 'DATASET_INVALID', hint: options.hint, cause: options.cause });
    this.paths = options.paths ?? [];
  }
}

/** Training produced a NaN or infinite loss; retrying the same trial would diverge again. */
export class DivergedError extends SweepError {
  readonly epoch: number;
  readonly batch: number;
  readonly loss: number;

  constructor(epoch: number, batch: number, loss: number) {
    super(`training diverged: loss became ${loss} at epoch ${epoch}, batch ${batch}`, {
      code: 'TRIAL_DIVERGED',
      hint: 'Lower the learning rate or check the input data for extreme values.',
    });
    this.epoch = epoch;
    this.batch = batch;
    this.loss = loss;
  }
}

/** A configuration value (flag, env var, callback setting) that cannot be used. */
export class ConfigError extends SweepError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, { code: 'CONFIG_INVALID', hint: options.hint, cause: options.cause });
  }
}

/** The native TensorFlow backend is missing or broken. Never replaced by the pure-JS backend. */
export class BackendError extends SweepError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, {
      code: 'BACKEND_UNAVAILABLE',
      hint: 'Run `npm run setup` to build the native TensorFlow binding.',
      cause: options.cause,
    });
  }
}
