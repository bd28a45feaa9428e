#!/usr/bin/env bash
# Runs the embedded MLflow tracking server in the foreground until Ctrl-C, with the same
# flags and environment the sweep uses (tracking/server.ts).
#   scripts/mlflow-server.sh [STATE_DIR] [PORT]
#     STATE_DIR  default .state/mlflow (mlflow.db, mlflow-artifacts/, mlflow-server.log)
#     PORT       default 5000; 0 picks a free one
# The executable comes from SWEEP_MLFLOW_BIN, else $SWEEP_CACHE_DIR/mlflow-venv/bin/mlflow.
set -euo pipefail
cd "$(dirname "$0")/.."

export SWEEP_STATE_DIR="${1:-.state/mlflow}"
export SWEEP_MLFLOW_PORT="${2:-5000}"

exec node --import tsx --input-type=module -e "
import { startMlflowServer } from './tracking/server.ts';

const server = await startMlflowServer({
  stateDir: process.env.SWEEP_STATE_DIR,
  port: Number(process.env.SWEEP_MLFLOW_PORT),
});
console.log('MLflow is up: export MLFLOW_TRACKING_URI=' + server.url);
console.log('log: ' + server.logFile + ' (Ctrl-C stops it)');

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => server.stop().then(() => process.exit(0)));
}
setInterval(() => undefined, 1 << 30);
"
