/**
 * Reading one image file: check its header, refuse what cannot or should not be decoded, and
 * decode it to RGB uint8 at the target size.
 *
 * JPEG, PNG, GIF, WebP and TIFF go through sharp (libvips). BMP, which sharp cannot read, is
 * decoded by bmp-ts and then handed to sharp as raw pixels, so every format takes the same
 * colour conversion and resize steps.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';

import { decode as decodeBmp } from 'bmp-ts';
import sharp, { type Sharp } from 'sharp';

/** File extensions taken as images, compared in lower case (Keras's list plus .webp). */
export const IMAGE_EXTENSIONS: readonly string[] = [
  '.jpg',
  '.jpeg',
  '.png',
  '.bmp',
  '.gif',
  '.webp',
  '.tif',
  '.tiff',
];

/** Images with more pixels than this are refused before decoding (a memory guard). */
export const DEFAULT_MAX_IMAGE_PIXELS = 50_000_000;

/** Formats the loader decodes, as sharp names them (plus `bmp`). */
export type ImageFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'bmp';

const EXTENSION_FORMATS: Record<string, ImageFormat> = {
  '.jpg': 'jpeg',
  '.jpeg': 'jpeg',
  '.png': 'png',
  '.bmp': 'bmp',
  '.gif': 'gif',
  '.webp': 'webp',
  '.tif': 'tiff',
  '.tiff': 'tiff',
};

const SUPPORTED_FORMATS = new Set<string>(Object.values(EXTENSION_FORMATS));

/** Whether a file name has an image extension, in any letter case (`A.JPG` counts). */
export function isImageFileName(name: string): boolean {
  return extname(name).toLowerCase() in EXTENSION_FORMATS;
}

/** What the header of a readable image says. */
export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
  /** True when the content is a supported format other than the extension says (a PNG
   * named `.jpg`). Such files decode fine; the scan only reports them in a warning. */
  extensionMismatch: boolean;
  /** True when the decoded pixels are already 8-bit sRGB without alpha (most JPEGs), so the
   * colour conversion can be skipped. */
  isPlainRgb: boolean;
}

/** Target of a decode: height and width in pixels, and the pixel limit. */
export interface DecodeTarget {
  height: number;
  width: number;
  /** Refuse images with more pixels than this; default {@link DEFAULT_MAX_IMAGE_PIXELS}. */
  maxPixels?: number;
}

/** Outcome of reading one file: RGB pixels, or why the file cannot be used. */
export type DecodeResult =
  | { ok: true; header: ImageHeader; pixels: Buffer }
  | { ok: false; reason: string };

/**
 * Reads, checks and decodes one image file to RGB uint8 at `target`'s size.
 *
 * Conversions follow Keras's `load_img(color_mode='rgb')`: grayscale and palette images become
 * RGB, an alpha channel is dropped (not blended), CMYK is converted to sRGB, and any other size
 * is resized with nearest-neighbour sampling. EXIF orientation is not applied, as in Keras.
 *
 * Never throws for a bad file: unreadable files, content that is not an image of a supported
 * format, images over the pixel limit and truncated or corrupt data (any decoder warning,
 * sharp's `failOn: 'warning'`) come back as `{ ok: false, reason }`.
 *
 * @param path Absolute path of the file.
 * @param target Output size and pixel limit.
 * @returns On success, `pixels` holds `height * width * 3` bytes, row-major RGB.
 */
export async function decodeImageFile(path: string, target: DecodeTarget): Promise<DecodeResult> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    return { ok: false, reason: `cannot read the file: ${firstLine(error)}` };
  }

  const header = await readHeader(path, bytes);
  if ('reason' in header) {
    return { ok: false, reason: header.reason };
  }

  const maxPixels = target.maxPixels ?? DEFAULT_MAX_IMAGE_PIXELS;
  const pixelCount = header.width * header.height;
  if (pixelCount > maxPixels) {
    return {
      ok: false,
      reason:
        `image is ${header.width}x${header.height} (${formatPixels(pixelCount)}), ` +
        `over the limit of ${formatPixels(maxPixels)}`,
    };
  }

  try {
    const pixels = await decodeToRgb(bytes, header, target);
    return { ok: true, header, pixels };
  } catch (error) {
    return { ok: false, reason: `truncated or corrupt image data (${decoderDetail(error)})` };
  }
}

/** Reads the header only; no pixel data is decoded, so this is safe on huge images. */
async function readHeader(path: string, bytes: Buffer): Promise<ImageHeader | { reason: string }> {
  const extension = extname(path).toLowerCase();
  const expected = EXTENSION_FORMATS[extension];

  let format: string;
  let width: number;
  let height: number;
  let isPlainRgb = false;
  if (isBmp(bytes)) {
    const size = bmpSize(bytes);
    if (size === undefined) {
      return { reason: 'truncated or corrupt BMP header' };
    }
    ({ width, height } = size);
    format = 'bmp';
  } else {
    try {
      const metadata = await sharp(bytes).metadata();
      format = metadata.format;
      width = metadata.width;
      height = metadata.height;
      isPlainRgb = metadata.space === 'srgb' && metadata.channels === 3 &&
        metadata.depth === 'uchar' && metadata.isPalette !== true;
    } catch (error) {
      return { reason: headerProblem(error, extension) };
    }
  }

  if (!SUPPORTED_FORMATS.has(format)) {
    const supported = [...SUPPORTED_FORMATS].join(', ');
    return {
      reason: `content is ${format}, which the loader does not read (supported: ${supported})`,
    };
  }

  return {
    format: format as ImageFormat,
    width,
    height,
    extensionMismatch: format !== expected,
    isPlainRgb,
  };
}

/** Says why sharp could not read a header: wrong content, an empty file, or a broken header. */
function headerProblem(error: unknown, extension: string): string {
  const detail = firstLine(error);

  if (/unsupported image format/i.test(detail)) {
    return `content does not match the ${extension} extension: not a readable image (${detail})`;
  }
  if (/empty/i.test(detail)) {
    return 'empty file';
  }
  return `unreadable image header (${detail})`;
}

/** Runs the shared colour-conversion and resize pipeline and returns RGB bytes. */
async function decodeToRgb(
  bytes: Buffer,
  header: ImageHeader,
  target: DecodeTarget,
): Promise<Buffer> {
  const source = header.format === 'bmp'
    ? bmpToSharp(bytes)
    : sharp(bytes, { failOn: 'warning', limitInputPixels: false });

  // PIL's convert('RGB') drops alpha without blending; removeAlpha does the same. The
  // conversion costs a third of a small JPEG's decode, so plain RGB skips it.
  let pipeline = header.isPlainRgb ? source : source.removeAlpha().toColourspace('srgb');
  if (header.width !== target.width || header.height !== target.height) {
    pipeline = pipeline.resize({
      width: target.width,
      height: target.height,
      fit: 'fill',
      kernel: 'nearest',
    });
  }

  const { data, info } = await pipeline
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== target.width || info.height !== target.height) {
    throw new Error(
      `decoder returned ${info.width}x${info.height}x${info.channels}, expected ` +
        `${target.width}x${target.height}x3`,
    );
  }
  return data;
}

function isBmp(bytes: Buffer): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d;
}

/** Width and height from a BMP header (core or info header), or undefined if cut short. */
function bmpSize(bytes: Buffer): { width: number; height: number } | undefined {
  if (bytes.length < 26) {
    return undefined;
  }

  const headerSize = bytes.readUInt32LE(14);
  if (headerSize === 12) {
    return { width: bytes.readUInt16LE(18), height: Math.abs(bytes.readInt16LE(20)) };
  }
  return { width: Math.abs(bytes.readInt32LE(18)), height: Math.abs(bytes.readInt32LE(22)) };
}

/** Decodes a BMP fully in JS (throws on truncated data) and wraps the RGBA pixels in sharp. */
function bmpToSharp(bytes: Buffer): Sharp {
  const bitmap = decodeBmp(bytes, { toRGBA: true });
  return sharp(bitmap.data, {
    raw: { width: bitmap.width, height: bitmap.height, channels: 4 },
  }).removeAlpha();
}

/** `60.0 megapixels`, `50 megapixels`, or `64 pixels` below a tenth of a megapixel. */
function formatPixels(pixels: number): string {
  if (pixels < 100_000) {
    return `${pixels} pixels`;
  }
  const megapixels = pixels / 1e6;
  return `${Number.isInteger(megapixels) ? megapixels : megapixels.toFixed(1)} megapixels`;
}

/**
 * What the decoder said. libvips keeps its messages per thread, so with several decodes in
 * flight sharp sometimes has only its generic failOn message; that becomes a plain phrase.
 */
function decoderDetail(error: unknown): string {
  const detail = firstLine(error);
  return detail.startsWith('Warning treated as error') ? 'the decoder warned' : detail;
}

/** The first line of an error's message; sharp repeats decoder warnings over many lines. */
export function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]?.trim() ?? message;
}
