#!/bin/sh
# Registers the namespace the workers poll unless it exists. Runs in temporalio/admin-tools.
set -eu

namespace="${SWEEP_NAMESPACE:-default}"
until temporal operator cluster health --address "$TEMPORAL_ADDRESS"; do
  echo "waiting for Temporal at $TEMPORAL_ADDRESS"
  sleep 2
done

if temporal operator namespace describe -n "$namespace" --address "$TEMPORAL_ADDRESS" >/dev/null
then
  echo "namespace $namespace exists"
else
  temporal operator namespace create -n "$namespace" --retention 30d --address "$TEMPORAL_ADDRESS"
  echo "namespace $namespace created"
fi
