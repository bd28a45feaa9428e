/**
 * Splitting params, tags and metrics into `runs/log-batch` requests that MLflow accepts.
 */
import { toRawMetric, type RawMetricOut } from './wire.js';
import type { RunData } from './types.js';

/** What MLflow accepts in one `runs/log-batch` request (MLflow's own limits). */
export const LOG_BATCH_LIMITS = Object.freeze({
  metrics: 1000,
  params: 100,
  tags: 100,
  /** Metrics, params and tags together. */
  total: 1000,
  /** The server rejects bodies over 1e6 bytes; this leaves room for the envelope. */
  bodyBytes: 900_000,
});
/** One `runs/log-batch` body, with a short list of its keys for error messages. */
export interface BatchRequest {
  body: {
    metrics: RawMetricOut[];
    params: { key: string; value: string }[];
    tags: { key: string; value: string }[];
  };
  summary: string;
}

/**
 * Splits params, tags and metrics into requests within {@link LOG_BATCH_LIMITS}, in that
 * order (params and tags first, so a run's config lands before its metrics).
 */
export function splitBatch(data: RunData): BatchRequest[] {
  const items: { kind: 'params' | 'tags' | 'metrics'; item: { key: string } }[] = [];
  for (const [key, value] of Object.entries(data.params ?? {})) {
    items.push({ kind: 'params', item: { key, value: String(value) } as { key: string } });
  }
  for (const [key, value] of Object.entries(data.tags ?? {})) {
    items.push({ kind: 'tags', item: { key, value } as { key: string } });
  }
  for (const point of data.metrics ?? []) {
    items.push({ kind: 'metrics', item: toRawMetric(point) });
  }

  const requests: BatchRequest[] = [];
  let current = emptyRequest();
  let bytes = 0;
  for (const { kind, item } of items) {
    const size = Buffer.byteLength(JSON.stringify(item)) + 1;
    if (!fits(current, kind, bytes + size)) {
      requests.push(current);
      current = emptyRequest();
      bytes = 0;
    }
    (current.body[kind] as { key: string }[]).push(item);
    bytes += size;
  }
  if (countItems(current) > 0) {
    requests.push(current);
  }

  for (const request of requests) {
    request.summary = summarize(request);
  }
  return requests;
}

function emptyRequest(): BatchRequest {
  return { body: { metrics: [], params: [], tags: [] }, summary: '' };
}

function countItems(request: BatchRequest): number {
  const { metrics, params, tags } = request.body;
  return metrics.length + params.length + tags.length;
}

function fits(request: BatchRequest, kind: 'params' | 'tags' | 'metrics', bytes: number) {
  if (countItems(request) === 0) {
    return true;
  }
  return (
    request.body[kind].length < LOG_BATCH_LIMITS[kind] &&
    countItems(request) < LOG_BATCH_LIMITS.total &&
    bytes <= LOG_BATCH_LIMITS.bodyBytes
  );
}

function summarize(request: BatchRequest): string {
  const parts: string[] = [];
  for (const kind of ['params', 'tags', 'metrics'] as const) {
    const keys = [...new Set(request.body[kind].map((item) => item.key))];
    if (keys.length > 0) {
      const shown = keys.slice(0, 5).join(', ');
      parts.push(`${kind}: ${shown}${keys.length > 5 ? `, +${keys.length - 5} more` : ''}`);
    }
  }
  return parts.join('; ');
}
