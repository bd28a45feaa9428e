/**
 * A small seeded pseudo-random generator for random search. Same seed, same draws, on every
 * machine and Node version: it uses only 32-bit integer arithmetic (mulberry32).
 */

/** Returns a generator of uniform floats in [0, 1) with 53 random bits, seeded by `seed`. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;

  const next32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };

  return () => {
    const high = next32() >>> 5;
    const low = next32() >>> 6;
    return (high * 67_108_864 + low) / 9_007_199_254_740_992;
  };
}

/**
 * Draws `count` distinct integers from [0, total) with the generator `random`, in draw
 * order. Drawing more with the same seed keeps the earlier draws as a prefix.
 *
 * Uses a partial Fisher-Yates shuffle over a virtual array, so memory grows with `count`,
 * not `total`.
 *
 * @throws RangeError when `count` is negative or larger than `total`, or either is not a
 *   safe integer.
 */
export function sampleDistinct(count: number, total: number, random: () => number): number[] {
  if (!Number.isSafeInteger(count) || !Number.isSafeInteger(total) || count < 0) {
    throw new RangeError(`cannot draw ${count} of ${total}: both must be whole numbers`);
  }
  if (count > total) {
    throw new RangeError(`cannot draw ${count} distinct values from only ${total}`);
  }

  const swapped = new Map<number, number>();
  const drawn: number[] = [];

  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (total - i));
    const atI = swapped.get(i) ?? i;
    const atJ = swapped.get(j) ?? j;
    swapped.set(j, atI);
    drawn.push(atJ);
  }

  return drawn;
}
