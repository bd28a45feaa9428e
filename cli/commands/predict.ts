import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import type { Tensor } from '@tensorflow/tfjs-node';
import type { Argv, CommandModule } from 'yargs';

import { ConfigError, DatasetError } from '../../lib/errors.js';
import { resolveTemporalSettings } from '../../temporal/config.js';
import { resolveTrackingSettings } from '../../tracking/config.js';
import {
  downloadModel,
  parseModelReference,
  resolveModelRun,
} from '../../tracking/model-artifacts.js';
import { openTracking, type TrackingSession } from '../../tracking/session.js';

/** Options of `sweep predict`. */
export interface PredictOptions {
  /** A trial's run id, or `best:<sweep id>`. */
  model: string;
  /** Image files to classify (any format the dataset loader reads). */
  images: string[];
  json: boolean;
  /**
   * MLflow server; default `MLFLOW_TRACKING_URI`, `trackingUri` in sweep.config.yaml, else
   * the embedded server of the state folder (started for the command when needed).
   */
  trackingUri?: string;
  /** Where the table or JSON goes; default standard output. */
  stdout?: { write(text: string): unknown };
}

/** One image's prediction. */
export interface Prediction {
  /** The path as given. */
  path: string;
  /** The most probable class. */
  className: string;
  /** Its probability, in [0, 1]. */
  probability: number;
  /** Every class's probability, in model output order. */
  probabilities: Record<string, number>;
}

/** What `sweep predict` found, as printed with `--json`. */
export interface PredictResult {
  runId: string;
  trialId: string | undefined;
  sweepId: string | undefined;
  classNames: string[];
  /** Model input size in pixels; images are resized to it. */
  imageSize: { height: number; width: number };
  rescale: number;
  predictions: Prediction[];
}

/** `sweep predict`: yargs declaration; the work is in {@link predict}. */
export const predictCommand: CommandModule<object, PredictOptions> = {
  command: 'predict <images..>',
  describe: 'Classify images with a trained trial model from MLflow',
  builder: (yargs) =>
    (yargs as Argv<object>)
      .positional('images', {
        type: 'string',
        array: true,
        demandOption: true,
        describe: 'image files (jpg, png, bmp, gif, webp, tiff)',
      })
      .option('model', {
        type: 'string',
        demandOption: true,
        describe: 'a trial run id (32 hex digits) or best:<sweep id>',
      })
      .option('tracking-uri', {
        type: 'string',
        describe: 'MLflow server URL (default: $MLFLOW_TRACKING_URI, sweep.config.yaml ' +
          'trackingUri, else the embedded server of the state folder)',
      })
      .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON' })
      .example(
        '$0 predict --model best:dropout-1f0c9a2b photo.jpg',
        'classify with the best model of a sweep',
      )
      .example(
        '$0 predict --model 3f2a9c...e1 a.jpg b.png --json',
        'classify with one trial run, as JSON',
      )
      .example(
        '$0 predict --tracking-uri http://127.0.0.1:5000 --model best:tutorial-0a1b2c3d x.jpg',
        'ask a given MLflow server',
      ) as unknown as Argv<PredictOptions>,
  handler: async (argv) => {
    await predict(argv);
  },
};

/**
 * Runs `sweep predict`: resolves the model's run, downloads its `model/` artifacts and
 * class names into a temporary folder (removed afterwards), decodes every image at the
 * model's input size as the dataset loader does (RGB, nearest-neighbour resize), multiplies
 * by the recorded `augmentation.rescale`, and prints `path  class  probability` per image, or
 * the whole result as JSON. Without a configured MLflow server it reads the embedded one of
 * the state folder, starting it for the command when no other command runs it (6-8 s).
 *
 * @throws ConfigError when no tracking URI is configured while Temporal is a cluster, or the
 *   model reference is unusable.
 * @throws DatasetError listing every image that cannot be read, before predicting any.
 * @throws TrackingError when MLflow cannot be reached (retryable).
 */
export async function predict(options: PredictOptions): Promise<PredictResult> {
  const tracking = await openModelStore(options.trackingUri, options.model);
  try {
    return await predictWith(tracking, options);
  } finally {
    await tracking.close();
  }
}

async function predictWith(
  tracking: TrackingSession,
  options: PredictOptions,
): Promise<PredictResult> {
  const client = tracking.client;
  const source = await resolveModelRun(client, options.model);

  const folder = await mkdtemp(path.join(tmpdir(), 'sweep-predict-'));
  try {
    const model = await downloadModel(client, source.runId, folder);

    // Loaded here, not at the top: TensorFlow takes a second to start and other commands
    // skip it.
    const { tf } = await import('../../lib/tf.js');
    const { preprocessBatch } = await import('../../data/augment.js');
    const { decodeImageFile } = await import('../../data/images.js');

    const network = await tf.loadLayersModel(`file://${model.modelJson}`);
    try {
      const [, height, width] = network.inputs[0]?.shape ?? [];
      if (typeof height !== 'number' || typeof width !== 'number') {
        throw new ConfigError(
          `the model of run ${source.runId} has input shape ` +
            `${JSON.stringify(network.inputs[0]?.shape)}, not [batch, height, width, 3]`,
        );
      }

      const pixels = await decodeAll(options.images, { height, width }, decodeImageFile);
      const batch = tf.tensor4d(pixels, [options.images.length, height, width, 3], 'float32');
      const inputs = preprocessBatch(batch, model.rescale);
      const output = network.predict(inputs) as Tensor;
      const probabilities = (await output.array()) as number[][];
      tf.dispose([batch, inputs, output]);

      const result: PredictResult = {
        runId: source.runId,
        trialId: source.trialId,
        sweepId: source.sweepId,
        classNames: model.classNames,
        imageSize: { height, width },
        rescale: model.rescale,
        predictions: options.images.map((image, index) =>
          toPrediction(image, probabilities[index] ?? [], model.classNames),
        ),
      };
      print(result, options);
      return result;
    } finally {
      network.dispose();
    }
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/**
 * The configured MLflow server, or the state folder's embedded one (joined, or started for
 * this command) when Temporal is embedded too. The model reference is checked first, and a
 * state folder where the embedded MLflow never ran starts nothing: it holds no model.
 *
 * @throws ConfigError for a malformed model reference, when no server is configured and
 *   Temporal is a cluster, or when the embedded MLflow never ran in the state folder.
 */
async function openModelStore(
  trackingUri: string | undefined,
  model: string,
): Promise<TrackingSession> {
  const reference = parseModelReference(model);
  const temporal = resolveTemporalSettings({});
  const settings = resolveTrackingSettings({ trackingUri });
  if (settings.uri === null && temporal.address !== null) {
    throw new ConfigError('no MLflow server to read the model from', {
      hint:
        'Pass --tracking-uri http://127.0.0.1:5000 or set MLFLOW_TRACKING_URI to the server ' +
        'the sweep logged to.',
    });
  }
  if (settings.uri === null && !existsSync(path.join(temporal.stateDir, 'mlflow.db'))) {
    const what = 'sweepId' in reference ? `sweep ${reference.sweepId}` : `run ${reference.runId}`;
    throw new ConfigError(
      `no ${what} here: no sweep has been recorded with the embedded MLflow of ` +
        temporal.stateDir,
      {
        hint:
          'Run the command in the folder the sweep was started from (or set SWEEP_STATE_DIR ' +
          'to its state folder); for a tracking server elsewhere pass --tracking-uri.',
      },
    );
  }

  const session = await openTracking(settings, {
    stateDir: temporal.stateDir,
    temporalAddress: null,
    command: 'sweep predict',
  });
  // Tracking cannot be switched off here (predict has no --no-tracking).
  if (session === null) throw new ConfigError('no MLflow server to read the model from');
  return session;
}

type Decode = typeof import('../../data/images.js').decodeImageFile;

/** Decodes every image into one float32 buffer; gathers every failure before throwing. */
async function decodeAll(
  images: string[],
  size: { height: number; width: number },
  decode: Decode,
): Promise<Float32Array> {
  const imageValues = size.height * size.width * 3;
  const pixels = new Float32Array(images.length * imageValues);
  const problems: { image: string; reason: string }[] = [];

  for (const [index, image] of images.entries()) {
    const result = await decode(path.resolve(image), size);
    if (result.ok) {
      pixels.set(result.pixels, index * imageValues);
    } else {
      problems.push({ image, reason: result.reason });
    }
  }

  if (problems.length > 0) {
    const count = problems.length === 1 ? '1 image' : `${problems.length} images`;
    const lines = problems.map(({ image, reason }) => `  ${image}: ${reason}`);
    throw new DatasetError(`${count} cannot be read:\n${lines.join('\n')}`, {
      paths: problems.map(({ image }) => image),
      hint: 'Pass JPEG, PNG, BMP, GIF, WebP or TIFF files.',
    });
  }
  return pixels;
}

function toPrediction(image: string, row: number[], classNames: string[]): Prediction {
  let best = 0;
  row.forEach((value, index) => {
    if (value > (row[best] ?? -Infinity)) best = index;
  });

  return {
    path: image,
    className: classNames[best] ?? `class ${best}`,
    probability: row[best] ?? Number.NaN,
    probabilities: Object.fromEntries(classNames.map((name, index) => [name, row[index] ?? 0])),
  };
}

function print(result: PredictResult, options: PredictOptions): void {
  const out = options.stdout ?? process.stdout;
  if (options.json) {
    out.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }

  const pathWidth = Math.max(...result.predictions.map((p) => p.path.length));
  const classWidth = Math.max(...result.predictions.map((p) => p.className.length));
  for (const prediction of result.predictions) {
    const line =
      `${prediction.path.padEnd(pathWidth)}  ${prediction.className.padEnd(classWidth)}  ` +
      prediction.probability.toFixed(4);
    out.write(`${line}\n`);
  }
}
