import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import { axisPlotSize, writeAxisPlot, type AxisPlotTrial } from '../../report/axis-plot.js';
import { COLORS } from '../../report/svg.js';
import { readPixels, rgb, tempFolder } from './report-helpers.js';

/** A 3 x 2 grid whose accuracy rises with dropout and is best with attention `all`. */
function gridTrials(): AxisPlotTrial[] {
  const trials: AxisPlotTrial[] = [];
  for (const dropout of [0.3, 0.5, 0.7]) {
    for (const attention of ['none', 'all']) {
      trials.push({
        values: { 'model.dropout.dense': dropout, 'model.attention': attention },
        valAccuracy: 0.4 + dropout / 2 + (attention === 'all' ? 0.05 : 0),
      });
    }
  }
  trials[5]!.best = true;
  return trials;
}

describe('axis plot', () => {
  test('axis plot - draws a panel per axis with dots, means and the best ringed', async (t) => {
    const file = join(await tempFolder(t), 'axis.png');

    await writeAxisPlot(gridTrials(), ['model.dropout.dense', 'model.attention'], file);

    const pixels = await readPixels(file);
    assert.deepEqual({ width: pixels.width, height: pixels.height }, axisPlotSize(2));
    assert.deepEqual(axisPlotSize(2), { width: 920, height: 500 });

    const leftPanel = { left: 20, top: 120, right: 460, bottom: 480 };
    const rightPanel = { left: 460, top: 120, right: 900, bottom: 480 };
    for (const panel of [leftPanel, rightPanel]) {
      assert.ok(pixels.contains(rgb(COLORS.best), panel), 'best ring in each panel');
      assert.ok(pixels.contains(rgb(COLORS.validation), panel), 'mean bars in each panel');
      assert.ok(pixels.darkest(panel) < 80, 'labels in each panel');
    }
  });

  test('axis plot - lays out four axes three to a row', () => {
    assert.deepEqual(axisPlotSize(4), { width: 1360, height: 860 });
    assert.deepEqual(axisPlotSize(1), { width: 480, height: 500 });
  });

  test('axis plot - sets a long title smaller so it fits a one-panel figure', async (t) => {
    const file = join(await tempFolder(t), 'axis.png');
    const title = 'Sweep attention-placement-4a5f2d2c: best validation accuracy by grid value';

    await writeAxisPlot(gridTrials(), ['model.attention'], file, { title });

    const pixels = await readPixels(file);
    const leftEdge = { left: 0, top: 0, right: 12, bottom: 60 };
    const rightEdge = { left: pixels.width - 12, top: 0, right: pixels.width, bottom: 60 };
    assert.equal(pixels.darkest(leftEdge), 255, 'nothing drawn in the left margin');
    assert.equal(pixels.darkest(rightEdge), 255, 'nothing drawn in the right margin');
    assert.ok(pixels.darkest({ left: 40, top: 20, right: 440, bottom: 50 }) < 80, 'title drawn');
  });

  test('axis plot - leaves out trials without a finite accuracy', async (t) => {
    const file = join(await tempFolder(t), 'axis.png');
    const trials = gridTrials();
    trials[0]!.valAccuracy = Number.NaN;

    await writeAxisPlot(trials, ['model.attention'], file);

    const pixels = await readPixels(file);
    assert.equal(pixels.width, 480);
  });

  test('axis plot - refuses a sweep without axes or without any accuracy', async (t) => {
    const file = join(await tempFolder(t), 'axis.png');

    await assert.rejects(writeAxisPlot(gridTrials(), [], file), {
      code: 'REPORT_INPUT_INVALID',
      message: 'axis plot: the sweep has no grid axes, so there is nothing to plot',
    });
    await assert.rejects(
      writeAxisPlot([{ values: { a: 1 }, valAccuracy: Number.NaN }], ['a'], file),
      {
        code: 'REPORT_INPUT_INVALID',
        message: 'axis plot: none of the 1 trial(s) has a finite validation accuracy',
      },
    );
  });
});
