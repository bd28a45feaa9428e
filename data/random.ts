/**
 * Small seeded random numbers for the data pipeline: splitting, shuffling and augmentation.
 *
 * Everything here is deterministic: the same seed gives the same sequence on every machine,
 * so a trial can be re-run and gets the same split, batch order and augmented images.
 */

/** A source of uniform floats in [0, 1). */
export type Random = () => number;

/**
 * The mulberry32 generator: 32 bits of state, fast, and good enough for shuffling and
 * augmentation (not for cryptography).
 *
 * @param seed Any number; only its low 32 bits are used.
 * @returns A function giving the next float in [0, 1) on each call.
 */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;

  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
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
