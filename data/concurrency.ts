/**
 * Bounded parallelism for file work: enough requests in flight to keep sharp's thread pool
 * busy, few enough that thousands of files never sit in memory at once.
 */

/** Default number of files read and decoded at once. */
export const DEFAULT_FILE_CONCURRENCY = 8;

/**
 * Calls `work` on every item with at most `limit` calls running at once, and resolves when
 * all are done. Results come back in the order of `items`, not of completion.
 *
 * @param items Inputs; may be empty (resolves to `[]`).
 * @param limit Most calls in flight; values below 1 are treated as 1.
 * @param work Async function per item; it gets the item and its index. If one call rejects,
 *   no new calls start and the returned promise rejects with that error once the calls
 *   already running have settled.
 */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;

  async function runLane(): Promise<void> {
    while (failure === undefined && next < items.length) {
      const index = next;
      next += 1;
      try {
        results[index] = await work(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  }

  const lanes = Math.max(1, Math.min(Math.floor(limit), items.length));
  await Promise.all(Array.from({ length: lanes }, runLane));

  if (failure !== undefined) {
    throw failure.error;
  }
  return results;
}
