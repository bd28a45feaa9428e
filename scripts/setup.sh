#!/usr/bin/env bash
# One idempotent set-up for a fresh machine, called by both README commands.
#
# Installs into a cache outside the repo (SWEEP_CACHE_DIR, default ~/.cache/attention-sweep),
# so a second run, or CI on the same machine, reuses everything and takes seconds:
#   1. npm dependencies (npm ci, no third-party install scripts run)
#   2. TensorFlow's C library and headers from PyPI's tensorflow-cpu wheel
#   3. @tensorflow/tfjs-node's native binding, built from source against that library
#   4. the Temporal CLI (go install of a pinned tag)
#   5. MLflow (pinned, in a virtualenv)
#
# Usage: scripts/setup.sh [--gpu]
#   --gpu  build @tensorflow/tfjs-node-gpu against the CUDA-enabled `tensorflow` wheel and its
#          NVIDIA library wheels instead. Untested: no machine here has both a GPU and the
#          registries (see README, Limitations).
set -euo pipefail
cd "$(dirname "$0")/.."

TF_VERSION=2.21.0
TFJS_VERSION=4.22.0
TEMPORAL_CLI_VERSION=v1.5.1
MLFLOW_VERSION=3.17.2

CACHE_DIR="${SWEEP_CACHE_DIR:-$HOME/.cache/attention-sweep}"
LOG_DIR="$CACHE_DIR/logs"
GPU=false
[ "${1:-}" = "--gpu" ] && GPU=true
mkdir -p "$CACHE_DIR" "$LOG_DIR"

# --- helpers -------------------------------------------------------------------------------

# step NAME FUNCTION: runs FUNCTION, printing the step and its duration; on failure prints
# the tail of the step's log and where the whole log is.
step() {
  local name=$1 fn=$2 started=$SECONDS log="$LOG_DIR/$2.log"
  printf 'setup: %-34s ' "$name"
  if "$fn" >"$log" 2>&1; then
    printf 'ok    %3ds  %s\n' $((SECONDS - started)) "$(tail -n 1 "$log")"
  else
    printf 'FAILED after %ds\n' $((SECONDS - started))
    echo "----- last lines of $log -----" >&2
    tail -n 25 "$log" >&2
    echo "------------------------------" >&2
    exit 1
  fi
}

fail() {
  echo "$*"
  return 1
}

# --- steps ---------------------------------------------------------------------------------

check_tools() {
  local node_major python_ok
  node_major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$node_major" -ge 20 ] || fail "Node.js 20 or newer is needed, found $(node --version)"
  python_ok=$(python3 -c 'import sys; print(int(sys.version_info >= (3, 10)))')
  [ "$python_ok" = 1 ] || fail "Python 3.10 or newer is needed, found $(python3 --version)"
  command -v go >/dev/null || fail "Go is needed to build the Temporal CLI (apt-get install golang)"
  command -v make >/dev/null && command -v g++ >/dev/null \
    || fail "make and g++ are needed to build the TensorFlow binding (apt-get install build-essential)"
  echo "node $(node --version), $(python3 --version), $(go version | cut -d' ' -f3)"
}

system_packages() {
  # Debian packages: fonts for the text in report images; Chromium for the MLflow UI test.
  local wanted=(fonts-dejavu-core chromium) missing=()
  for package in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$package")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    echo "present: ${wanted[*]}"
    return
  fi

  [ "$(id -u)" = 0 ] || fail "missing Debian packages; run: sudo apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  echo "installed: ${missing[*]}"
}

npm_dependencies() {
  # Skip when node_modules was installed from this exact lockfile.
  local stamp=node_modules/.attention-sweep-lock.sha256 want
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "cached (lockfile unchanged)"
    return
  fi

  # No dependency needs its install script: the only native part we build ourselves below.
  npm ci --ignore-scripts --no-audit --no-fund
  echo "$want" >"$stamp"
  echo "installed $(find node_modules -maxdepth 2 -name package.json | wc -l) packages"
}

tensorflow_library() {
  local wheel_pkg=tensorflow-cpu
  [ "$GPU" = true ] && wheel_pkg=tensorflow
  local dir="$CACHE_DIR/$wheel_pkg-$TF_VERSION"
  if [ -f "$dir/.complete" ]; then
    echo "cached in $dir"
    return
  fi

  rm -rf "$dir" && mkdir -p "$dir/lib" "$CACHE_DIR/wheels"
  if [ "$GPU" = true ]; then
    # The CUDA build finds cuDNN, cuBLAS... in the NVIDIA wheels next to it in site-packages.
    python3 -m venv "$dir/venv"
    "$dir/venv/bin/pip" install --quiet --disable-pip-version-check \
      "tensorflow[and-cuda]==$TF_VERSION"
    local site
    site=$("$dir/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    ln -s "$site/tensorflow/libtensorflow_cc.so.2" "$site/tensorflow/libtensorflow_framework.so.2" \
      "$dir/lib/"
    ln -s "$site/tensorflow/include" "$dir/include"
    ls -d "$site"/nvidia/*/lib | paste -sd: >"$dir/cuda-library-path"
  else
    python3 -m pip download --no-deps --only-binary=:all: -d "$CACHE_DIR/wheels" \
      "$wheel_pkg==$TF_VERSION"
    local wheel
    wheel=$(ls "$CACHE_DIR"/wheels/"${wheel_pkg//-/_}"-"$TF_VERSION"-*.whl | head -n 1)

    # Unpack only the C library, the framework library and the headers (not the 1 GB rest).
    python3 - "$wheel" "$dir" <<'PY'
import sys, zipfile, os, shutil
wheel, target = sys.argv[1], sys.argv[2]
wanted_libs = {'tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2'}
with zipfile.ZipFile(wheel) as archive:
    for member in archive.namelist():
        if member in wanted_libs:
            destination = os.path.join(target, 'lib', os.path.basename(member))
        elif member.startswith('tensorflow/include/') and not member.endswith('/'):
            destination = os.path.join(target, 'include', member[len('tensorflow/include/'):])
        else:
            continue
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        with archive.open(member) as source, open(destination, 'wb') as sink:
            shutil.copyfileobj(source, sink)
PY
    [ -f "$dir/lib/libtensorflow_cc.so.2" ] || fail "$wheel has no tensorflow/libtensorflow_cc.so.2"
  fi

  # The binding links -ltensorflow; its soname is libtensorflow_cc.so.2.
  ln -s libtensorflow_cc.so.2 "$dir/lib/libtensorflow.so"
  ln -s libtensorflow_framework.so.2 "$dir/lib/libtensorflow_framework.so"
  touch "$dir/.complete"
  echo "unpacked $wheel_pkg $TF_VERSION into $dir"
}

tfjs_binding() {
  local package=@tensorflow/tfjs-node wheel_pkg=tensorflow-cpu
  if [ "$GPU" = true ]; then
    package=@tensorflow/tfjs-node-gpu
    wheel_pkg=tensorflow
    [ -d "node_modules/$package" ] || npm install --no-save --ignore-scripts "$package@$TFJS_VERSION"
  fi

  local module="node_modules/$package"
  local napi abi cached
  napi=$(node -p 'process.versions.napi')
  abi=$(node -p 'process.versions.modules')
  cached="$CACHE_DIR/bindings/${package#@tensorflow/}-$TFJS_VERSION-$wheel_pkg-$TF_VERSION-abi$abi"
  local built="$module/lib/napi-v8/tfjs_binding.node"

  # deps/ points at the cached library; the binding finds it through rpath $ORIGIN/../../deps/lib.
  ln -sfn "$CACHE_DIR/$wheel_pkg-$TF_VERSION" "$module/deps"

  if [ -f "$cached/tfjs_binding.node" ]; then
    mkdir -p "$(dirname "$built")"
    cp "$cached/tfjs_binding.node" "$built"
    echo "cached binding for Node ABI $abi"
  else
    local nodedir
    nodedir=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
    [ -f "$nodedir/include/node/node_api.h" ] \
      || fail "Node's headers are missing from $nodedir/include/node (install nodejs headers)"
    (cd "$module" && ../../.bin/node-pre-gyp install --build-from-source --nodedir="$nodedir")
    mkdir -p "$cached"
    cp "$built" "$cached/tfjs_binding.node"
    echo "built binding against TensorFlow $TF_VERSION (N-API $napi)"
  fi

  # Prove the native backend loads and computes; never fall back to the pure-JS backend.
  node -e "
    const tf = require('$package');
    if (tf.getBackend() !== 'tensorflow') throw new Error('backend is ' + tf.getBackend());
    const sum = tf.tensor([1, 2, 3]).sum().dataSync()[0];
    if (sum !== 6) throw new Error('native backend computed ' + sum);
    console.log('native backend ok: TensorFlow ' + tf.version['tfjs-node'] + ' binding, C library $TF_VERSION');
  "
}

temporal_cli() {
  # A `go install` build reports version 0.0.0-DEV, so a stamp records the tag we built.
  local bin="$CACHE_DIR/bin/temporal" stamp="$CACHE_DIR/bin/.temporal-version"
  if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$TEMPORAL_CLI_VERSION" ]; then
    echo "cached: temporal $TEMPORAL_CLI_VERSION ($("$bin" --version | sed 's/.*(//; s/)//'))"
    return
  fi
  GOBIN="$CACHE_DIR/bin" go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION"
  echo "$TEMPORAL_CLI_VERSION" >"$stamp"
  echo "built: temporal $TEMPORAL_CLI_VERSION ($("$bin" --version | sed 's/.*(//; s/)//'))"
}

mlflow() {
  local venv="$CACHE_DIR/mlflow-venv" stamp="$CACHE_DIR/mlflow-venv/.mlflow-version"
  if [ -x "$venv/bin/mlflow" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$MLFLOW_VERSION" ]; then
    echo "cached: mlflow $MLFLOW_VERSION in $venv"
    return
  fi
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "mlflow==$MLFLOW_VERSION"
  echo "$MLFLOW_VERSION" >"$stamp"
  echo "installed: mlflow $MLFLOW_VERSION in $venv"
}

prometheus() {
  # The metrics tests run a real Prometheus and promtool; Debian's package provides both.
  # This function shadows the command, so the binaries are looked up with `type -P`.
  local sudo="" bin
  [ "$(id -u)" -eq 0 ] || sudo=sudo

  if ! type -P prometheus >/dev/null || ! type -P promtool >/dev/null; then
    command -v apt-get >/dev/null \
      || fail "test/metrics needs prometheus and promtool: install Prometheus 2.x (prometheus.io)"

    # A fresh container has no package lists: the candidate stays empty until an update.
    if ! apt-cache policy prometheus | grep -q 'Candidate: [0-9]'; then
      $sudo apt-get update
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends prometheus
  fi

  # The package enables a system service on :9090; the tests and deploy/ run their own.
  if [ -d /run/systemd/system ] && { systemctl is-enabled --quiet prometheus \
    || systemctl is-active --quiet prometheus; } 2>/dev/null; then
    $sudo systemctl disable --now prometheus
  elif [ -x /etc/init.d/prometheus ] && $sudo /etc/init.d/prometheus status >/dev/null 2>&1; then
    $sudo /etc/init.d/prometheus stop
  fi

  bin=$(type -P prometheus) || fail "apt-get installed prometheus but it is not on PATH"
  echo "$("$bin" --version 2>&1 | head -n 1), promtool at $(type -P promtool)"
}

# --- main ----------------------------------------------------------------------------------

started=$SECONDS
echo "setup: cache in $CACHE_DIR (logs in $LOG_DIR)"
step "tools" check_tools
step "system packages" system_packages
step "npm dependencies" npm_dependencies
step "TensorFlow C library $TF_VERSION" tensorflow_library
step "native tfjs binding" tfjs_binding
step "Temporal CLI $TEMPORAL_CLI_VERSION" temporal_cli
step "MLflow $MLFLOW_VERSION" mlflow
step "Prometheus and promtool" prometheus
echo "setup: done in $((SECONDS - started)) s"
