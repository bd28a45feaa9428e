/**
 * "Did you mean" suggestions for misspelt keys, names and grid paths.
 */

/**
 * Edit distance between two strings, counting insertions, deletions, substitutions and
 * swaps of two neighbouring characters as one edit each (optimal string alignment).
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, () => new Array<number>(cols).fill(0));

  for (let i = 0; i < rows; i++) d[i]![0] = i;
  for (let j = 0; j < cols; j++) d[0]![j] = j;

  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);

      const swapped = i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1];
      if (swapped) best = Math.min(best, d[i - 2]![j - 2]! + 1);

      d[i]![j] = best;
    }
  }

  return d[a.length]![b.length]!;
}

/** Lowercase without `_`, `-` and spaces, so `batch_size` and `batchSize` compare equal. */
function normalise(word: string): string {
  return word.toLowerCase().replace(/[_\-\s]/g, '');
}

/**
 * The candidate `input` most likely meant, or undefined when none is close enough to be a
 * typo. In order: a candidate that differs only in case, `_` or `-`; the only candidate
 * that an input of three or more characters starts (`every` for `everyEpochs`); the nearest
 * within about one edit in three characters (at least 1, at most 3), ties going to the
 * candidate listed first.
 */
export function closestMatch(input: string, candidates: readonly string[]): string | undefined {
  const wanted = normalise(input);
  const sameWord = candidates.find((candidate) => normalise(candidate) === wanted);
  if (sameWord !== undefined) return sameWord;

  // A clipped name (`every` for `everyEpochs`) is a likely slip when only one fits.
  const extended = candidates.filter((candidate) => normalise(candidate).startsWith(wanted));
  if (wanted.length >= 3 && extended.length === 1) return extended[0];

  const limit = Math.min(3, Math.max(1, Math.floor(wanted.length / 3)));
  let best: string | undefined;
  let bestDistance = Infinity;

  for (const candidate of candidates) {
    const distance = editDistance(wanted, normalise(candidate));
    if (distance <= limit && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }

  return best;
}

/** `` did you mean `x`?`` with a leading space, or '' when nothing is close. */
export function didYouMean(input: string, candidates: readonly string[]): string {
  const match = closestMatch(input, candidates);
  return match === undefined ? '' : ` did you mean \`${match}\`?`;
}
