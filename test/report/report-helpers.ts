/**
 * Shared by the report tests: a temporary folder removed after the test, and raw pixel reads
 * of a written PNG.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

import sharp from 'sharp';

/** A fresh folder under the OS temp dir, deleted when the test ends. */
export async function tempFolder(t: TestContext): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'attention-sweep-report-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  return folder;
}

/** Decoded RGB pixels of a PNG, with a reader for one pixel. */
export interface Pixels {
  width: number;
  height: number;
  at(x: number, y: number): [number, number, number];
  /** Whether any pixel in the box has exactly this colour. */
  contains(color: [number, number, number], box?: Box): boolean;
  /** Darkest channel value in the box (255 for an all-white box). */
  darkest(box: Box): number;
}

/** A pixel rectangle, right and bottom exclusive. */
export interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** Reads a PNG into RGB pixels. */
export async function readPixels(file: string): Promise<Pixels> {
  const { data, info } = await sharp(file)
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const { width, height, channels } = info;
  const at = (x: number, y: number): [number, number, number] => {
    const offset = (y * width + x) * channels;
    return [data[offset] ?? -1, data[offset + 1] ?? -1, data[offset + 2] ?? -1];
  };
  const whole: Box = { left: 0, top: 0, right: width, bottom: height };

  return {
    width,
    height,
    at,
    contains(color, box = whole) {
      for (let y = box.top; y < box.bottom; y += 1) {
        for (let x = box.left; x < box.right; x += 1) {
          const [r, g, b] = at(x, y);
          if (r === color[0] && g === color[1] && b === color[2]) {
            return true;
          }
        }
      }

      return false;
    },
    darkest(box) {
      let darkest = 255;
      for (let y = box.top; y < box.bottom; y += 1) {
        for (let x = box.left; x < box.right; x += 1) {
          darkest = Math.min(darkest, ...at(x, y));
        }
      }

      return darkest;
    },
  };
}

/** `#rrggbb` as an RGB triple. */
export function rgb(hex: string): [number, number, number] {
  const value = Number.parseInt(hex.slice(1), 16);
  return [(value >> 16) & 255, (value >> 8) & 255, value & 255];
}
