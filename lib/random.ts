/**
 * Small seeded random numbers: random search, dataset splits, shuffling and augmentation.
 *
 * Everything here is deterministic: the same seed gives the same sequence on every machine and
 * Node version (32-bit integer arithmetic only), so plans, splits, batch orders and augmented
 * images can be reproduced.
 */

/** A source of uniform floats in [0, 1). */
export type Random = () => number;

/** The mulberry32 core: a stream of unsigned 32-bit integers from 32 bits of state. */
function uint32Stream(seed: number): () => number {
  let state = seed >>> 0;

  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/**
 * The mulberry32 generator: fast, and good enough for shuffling and augmentation (not for
 * cryptography). Each float carries 32 random bits.
 *
 * @param seed Any number; only its low 32 bits are used.
 * @returns A function giving the next float in [0, 1) on each call.
 */
export function mulberry32(seed: number): Random {
  const next = uint32Stream(seed);
  return () => next() / 4294967296;
}

/**
 * Like {@link mulberry32} but each float carries 53 random bits (two draws), for random search
 * over grids too large for 32 bits to index evenly.
 */
export function seededRandom(seed: number): Random {
  const next = uint32Stream(seed);

  return () => {
    const high = next() >>> 5;
    const low = next() >>> 6;
    return (high * 67_108_864 + low) / 9_007_199_254_740_992;
  };
}

/**
 * Mixes several numbers into one 32-bit seed, so related streams (seed, epoch, batch) do not
 * overlap. Order matters: `mixSeeds(1, 2) !== mixSeeds(2, 1)`.
 *
 * @param parts Integers (only their low 32 bits count); at least one.
 * @returns An unsigned 32-bit integer.
 */
export function mixSeeds(...parts: number[]): number {
  let hash = 0x811c9dc5;

  for (const part of parts) {
    hash = Math.imul(hash ^ (part >>> 0), 0x01000193) >>> 0;
    // A murmur3-style finaliser spreads every input bit over the whole word.
    hash ^= hash >>> 16;
    hash = Math.imul(hash, 0x85ebca6b) >>> 0;
    hash ^= hash >>> 13;
    hash = Math.imul(hash, 0xc2b2ae35) >>> 0;
    hash ^= hash >>> 16;
  }
  return hash >>> 0;
}

/**
 * A 32-bit FNV-1a hash of a string, used to seed per-class streams by class name, so adding a
 * class does not change how the other classes are split.
 */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/**
 * Shuffles an array or typed array in place with the Fisher-Yates algorithm.
 *
 * @param items Values to reorder; modified in place.
 * @param random Source of uniform floats in [0, 1).
 */
export function shuffleInPlace<T>(
  items: { length: number; [index: number]: T },
  random: Random,
): void {
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    const held = items[i] as T;
    items[i] = items[j] as T;
    items[j] = held;
  }
}

/**
 * A uniform float in [low, high).
 */
export function uniform(random: Random, low: number, high: number): number {
  return low + (high - low) * random();
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
export function sampleDistinct(count: number, total: number, random: Random): number[] {
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
