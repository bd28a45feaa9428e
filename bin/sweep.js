#!/usr/bin/env node
// Entry point of the `sweep` command: registers the TypeScript loader, then runs the CLI.
import { register } from 'tsx/esm/api';

// gRPC sends the host as the TLS server name also when it is an IP address (a cluster at
// 10.0.0.5:7233), and Node warns about that on every TLS connection. The connection works;
// keep the warning off the user's screen, and every other warning on it.
const emitWarning = process.emitWarning;
process.emitWarning = function (warning, ...rest) {
  const code = typeof rest[0] === 'object' ? rest[0]?.code : rest[1];
  if (code === 'DEP0123') return;
  return emitWarning.call(process, warning, ...rest);
};

register();
await import('../cli/main.ts');
