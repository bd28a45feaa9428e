/**
 * Tiny image folders for the data tests, written with sharp into a temporary folder that is
 * removed after the test.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { crc32 } from 'node:zlib';

import { pino, type Logger } from 'pino';
import sharp, { type Sharp } from 'sharp';

import { datasetSchema, type DatasetConfig } from '../../spec/schema.js';

export type Rgb = [number, number, number];

/** A fresh temporary folder, removed when the test ends. */
export async function tempFolder(t: TestContext): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'sweep-data-test-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  return folder;
}

/** Writes `bytes` at `path`, creating the folders on the way. */
export async function put(path: string, bytes: Buffer | string): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
  return path;
}

/** A solid-colour image of one colour. */
export function solid(width: number, height: number, rgb: Rgb): Sharp {
  const [r, g, b] = rgb;
  return sharp({ create: { width, height, channels: 3, background: { r, g, b } } });
}

/** A solid-colour PNG. */
export function solidPng(width: number, height: number, rgb: Rgb): Promise<Buffer> {
  return solid(width, height, rgb).png().toBuffer();
}

/** A JPEG full of high-frequency detail, so that cutting it short cuts pixel data. */
export function noisyJpeg(width: number, height: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i += 1) {
    raw[i] = (i * 37) % 251;
  }
  return sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

/** An RGBA PNG whose every pixel is `rgb` with alpha `alpha` (0-255), stored unblended. */
export function rgbaPng(width: number, height: number, rgb: Rgb, alpha: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 4);
  for (let i = 0; i < width * height; i += 1) {
    raw.set([...rgb, alpha], i * 4);
  }
  return sharp(raw, { raw: { width, height, channels: 4 } }).png().toBuffer();
}

/**
 * A 4x4 PNG whose header claims `width` x `height`: metadata reports the claimed size, and
 * decoding it would need that much memory (a decompression bomb in miniature).
 */
export async function pngClaimingSize(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(await solidPng(4, 4, [128, 128, 128]));
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)) >>> 0, 29);
  return png;
}

/** A 24-bit BMP of one colour (bottom-up rows, each padded to 4 bytes). */
export function solidBmp(width: number, height: number, rgb: Rgb): Buffer {
  const rowBytes = Math.ceil((width * 3) / 4) * 4;
  const dataOffset = 54;
  const bmp = Buffer.alloc(dataOffset + rowBytes * height);

  bmp.write('BM', 0, 'latin1');
  bmp.writeUInt32LE(bmp.length, 2);
  bmp.writeUInt32LE(dataOffset, 10);
  bmp.writeUInt32LE(40, 14);
  bmp.writeInt32LE(width, 18);
  bmp.writeInt32LE(height, 22);
  bmp.writeUInt16LE(1, 26);
  bmp.writeUInt16LE(24, 28);
  bmp.writeUInt32LE(rowBytes * height, 34);

  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const at = dataOffset + y * rowBytes + x * 3;
      bmp.set([rgb[2], rgb[1], rgb[0]], at);
    }
  }
  return bmp;
}

/**
 * Writes `count` solid 8x8 PNGs per class into `folder/<class>/`, named `img-00.png`...; the
 * colour encodes the class index (red channel) and image number (green channel).
 */
export async function writeClasses(
  folder: string,
  counts: Record<string, number>,
  size = 8,
): Promise<void> {
  for (const [classIndex, [className, count]] of Object.entries(counts).entries()) {
    for (let i = 0; i < count; i += 1) {
      const name = `img-${String(i).padStart(2, '0')}.png`;
      await put(join(folder, className, name), await solidPng(size, size, [classIndex * 40, i, 7]));
    }
  }
}

/** `root/{train,val,test}/<class>/` with the same counts in every split. */
export async function writeSplits(root: string, counts: Record<string, number>): Promise<void> {
  for (const split of ['train', 'val', 'test']) {
    await writeClasses(join(root, split), counts);
  }
}

/** A dataset config with the spec's defaults, overridden by `overrides`. */
export function datasetConfig(root: string, overrides: Partial<DatasetConfig> = {}): DatasetConfig {
  return { ...datasetSchema.parse({ root, imageSize: 8 }), ...overrides };
}

/** A logger that keeps its records in `records`, for checking warnings. */
export function captureLogger(): { log: Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const stream = {
    write(line: string) {
      records.push(JSON.parse(line) as Record<string, unknown>);
    },
  };
  return { log: pino({ level: 'debug' }, stream), records };
}
