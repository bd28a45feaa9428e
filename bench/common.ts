/**
 * What every benchmark shares: the machine's description, load sampling, child processes that
 * answer with one JSON line, tables, and the dated sections appended to `bench/RESULTS.md`.
 *
 * Nothing here loads TensorFlow, so a benchmark can set thread variables before its children
 * (or itself, through a dynamic import) start it.
 */
import { spawn } from 'node:child_process';
import { appendFile, readFile } from 'node:fs/promises';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { ConfigError } from '../lib/errors.js';

/** The repository root. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The shared flowers dataset (read-only). */
export const FLOWERS = resolve(REPO_ROOT, '../shared/datasets/flowers');

/** `${SWEEP_CACHE_DIR:-~/.cache/attention-sweep}`, where set-up keeps libraries and venvs. */
export const CACHE_DIR = process.env.SWEEP_CACHE_DIR ?? join(homedir(), '.cache/attention-sweep');

/** What one benchmark hands back to `bench/run.ts`. */
export interface BenchReport {
  /** Section title in RESULTS.md, e.g. `keras-parity`. */
  name: string;
  /** The human view: tables and sentences, printed and recorded as they are. */
  text: string;
  /** Every figure, for `--json` and for the record. */
  figures: Record<string, unknown>;
}

/** The machine a result was measured on. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
}

/** CPU model, core count and memory of this machine. */
export function machineInfo(): MachineInfo {
  const processors = cpus();
  return {
    cpuModel: processors[0]?.model.trim() ?? 'unknown',
    cores: processors.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

/** Load averages over a run: sampled every few seconds, plus the 1-minute figure at the end. */
export interface LoadSummary {
  /** Mean of the 1-minute load average over the samples. */
  mean: number;
  max: number;
  samples: number;
}

/**
 * Samples `os.loadavg()[0]` every `intervalMs` until `stop()` is called. Other engineers share
 * the machine, so every benchmark reports the load it ran under.
 */
export function sampleLoad(intervalMs = 5000): { stop(): LoadSummary } {
  const samples: number[] = [loadavg()[0]!];
  const timer = setInterval(() => samples.push(loadavg()[0]!), intervalMs);
  timer.unref();

  return {
    stop(): LoadSummary {
      clearInterval(timer);
      samples.push(loadavg()[0]!);
      const sum = samples.reduce((total, value) => total + value, 0);
      return {
        mean: round(sum / samples.length, 2),
        max: round(Math.max(...samples), 2),
        samples: samples.length,
      };
    },
  };
}

/** Rounds to `digits` decimals. */
export function round(value: number, digits = 1): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** Mean of the numbers (NaN for none). */
export function mean(values: number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** Median of the numbers (NaN for none). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** A plain-text table with a header rule; numbers right-aligned. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = rows.map((row) => row.map(String));
  const widths = header.map((title, column) =>
    Math.max(title.length, ...cells.map((row) => row[column]?.length ?? 0)),
  );
  const numeric = header.map((_, column) => rows.every((row) => typeof row[column] === 'number'));
  const line = (row: string[]): string =>
    row
      .map((cell, column) =>
        numeric[column] ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!),
      )
      .join('  ')
      .trimEnd();

  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...cells.map(line)]
    .join('\n');
}

/** Options of {@link runJsonChild}. */
export interface ChildOptions {
  /** Extra environment variables (thread counts, log level). */
  env?: Record<string, string>;
  /** Kill the child after this long. Default 30 minutes. */
  timeoutMs?: number;
  /** Receives each stderr line (progress); default: dropped. */
  onStderr?: (line: string) => void;
}

/** What a child answered, with its wall time. */
export interface ChildResult<T> {
  result: T;
  wallSeconds: number;
}

/**
 * Runs a command whose last stdout line is a JSON object, and parses that line.
 *
 * @throws Error naming the command, its exit code and the end of its stderr when it fails,
 *   times out, or prints no JSON.
 */
export function runJsonChild<T>(
  command: string,
  args: string[],
  options: ChildOptions = {},
): Promise<ChildResult<T>> {
  const started = performance.now();
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, SWEEP_LOG_LEVEL: 'warn', TF_CPP_MIN_LOG_LEVEL: '2', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    stderr = (stderr + text).slice(-4000);
    for (const line of text.split('\n')) if (line !== '') options.onStderr?.(line);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30 * 60_000);

  return new Promise((resolvePromise, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const wallSeconds = (performance.now() - started) / 1000;
      const last = stdout.trim().split('\n').at(-1) ?? '';
      if (code === 0 && last.startsWith('{')) {
        resolvePromise({ result: JSON.parse(last) as T, wallSeconds });
        return;
      }
      const how = signal === null ? `exit code ${code}` : `signal ${signal}`;
      reject(new Error(`${command} ${args.join(' ')} failed (${how}):\n${stderr.trim()}`));
    });
  });
}

/** The node executable and arguments that run a TypeScript file of this repo with tsx. */
export function tsxArgs(file: string, args: string[] = []): [string, string[]] {
  return [process.execPath, ['--import', 'tsx', join(REPO_ROOT, file), ...args]];
}

/** Checks that a numeric option is a whole number within bounds. */
export function wholeNumber(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(
      `--${name} must be a whole number from ${min} to ${max}, got ${value}`,
      { hint: `Run: npm run bench -- --help` },
    );
  }
  return value;
}

/** Versions that matter to a result: tfjs-node, the TensorFlow C library, Node. */
export async function versions(): Promise<Record<string, string>> {
  const read = async (file: string): Promise<string> => {
    const text = await readFile(join(REPO_ROOT, 'node_modules', file, 'package.json'), 'utf8');
    return (JSON.parse(text) as { version: string }).version;
  };
  return {
    node: process.version,
    'tfjs-node': await read('@tensorflow/tfjs-node'),
    '@temporalio/worker': await read('@temporalio/worker').catch(() => 'absent'),
  };
}

/** The figures of a finished benchmark, as a dated Markdown section. */
export function resultSection(report: BenchReport, command: string, machine: MachineInfo): string {
  const date = new Date().toISOString().replace('T', ' ').slice(0, 16);
  return [
    `## ${report.name} - ${date} UTC`,
    '',
    `Command: \`${command}\``,
    '',
    `Machine: ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB RAM, ` +
      `${machine.platform}, Node ${machine.node}. Free memory at the end: ` +
      `${round(freemem() / 2 ** 30)} GiB.`,
    '',
    '```text',
    report.text.trimEnd(),
    '```',
    '',
    '<details><summary>All figures (JSON)</summary>',
    '',
    '```json',
    JSON.stringify(report.figures, null, 2),
    '```',
    '',
    '</details>',
    '',
    '',
  ].join('\n');
}

/** Appends a section to `bench/RESULTS.md`. */
export async function recordResult(section: string): Promise<string> {
  const file = join(REPO_ROOT, 'bench/RESULTS.md');
  await appendFile(file, section);
  return file;
}
