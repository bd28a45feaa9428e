/**
 * Child process of the `step` benchmark: times our training step on one random batch of the
 * tutorial's shape, alternating tfjs's default gradients and the fast ones, and prints one JSON
 * line. The step is the trainer's: Adam's `minimize` over the model applied in training mode.
 *
 *     node --import tsx bench/step-entry.ts '{"steps":10,"rounds":3}'
 */
import type { Scalar, Tensor, Variable } from '@tensorflow/tfjs-node';

/** What the parent asks for. */
export interface StepJob {
  /** Timed steps per round and variant. */
  steps: number;
  /** Rounds; each runs the default then the fast gradients. */
  rounds: number;
}

/** What the child prints: milliseconds of every timed step, by variant. */
export interface StepJobResult {
  tensorflow: string;
  parameters: number;
  defaultMs: number[];
  fastMs: number[];
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as StepJob;

  const { tf } = await import('../lib/tf.js');
  const { buildAttentionCnn } = await import('../model/attention-cnn.js');
  const { modelSchema } = await import('../spec/schema.js');
  const { crossEntropy } = await import('../training/trainer.js');
  const { useFastGradients } = await import('../training/fast-gradients.js');

  const shape = { height: 128, width: 128, classCount: 5, seed: 1 };
  const model = buildAttentionCnn(modelSchema.parse({}), shape);
  const optimizer = tf.train.adam(0.001, 0.9, 0.999, 1e-7);
  const variables = model.trainableWeights.map((weight) => weight.read() as Variable);
  const images = tf.randomUniform([32, 128, 128, 3], 0, 1, 'float32', 1);
  const labels = tf.oneHot(tf.randomUniform([32], 0, 5, 'int32', 2), 5).toFloat();

  const step = (): number => {
    const started = performance.now();
    const loss = optimizer.minimize(
      () => crossEntropy(model.apply(images, { training: true }) as Tensor, labels) as Scalar,
      true,
      variables,
    );
    loss!.dataSync();
    loss!.dispose();
    return performance.now() - started;
  };

  const result: StepJobResult = {
    tensorflow: (tf.backend() as unknown as { binding: { TF_Version: string } }).binding.TF_Version,
    parameters: model.countParams(),
    defaultMs: [],
    fastMs: [],
  };
  for (let round = 0; round < job.rounds; round += 1) {
    for (const fast of [false, true]) {
      useFastGradients(fast);
      step();
      const times = fast ? result.fastMs : result.defaultMs;
      for (let index = 0; index < job.steps; index += 1) times.push(step());
    }
  }

  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

await main();
