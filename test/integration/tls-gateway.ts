/**
 * A TLS front for a plaintext Temporal dev server, as a cluster behind an authenticating
 * gateway looks to its clients: it terminates TLS with a certificate from a test CA, demands
 * a client certificate from that CA (mTLS), checks the `authorization: Bearer <key>` header
 * of every gRPC call, and forwards the calls it accepts to the real server over HTTP/2.
 * The certificates are made with `openssl` in a temp folder.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM files of a test CA, a server certificate for 127.0.0.1/localhost and a client one. */
export interface TestCertificates {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** Makes a CA and two certificates it signs (P-256 keys, valid one day). */
export async function makeCertificates(): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'sweep-tls-'));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) =>
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const newKey = (name: string) =>
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', name);

  newKey('ca.key');
  openssl(
    ...['req', '-x509', '-new', '-key', 'ca.key', '-days', '1', '-subj', '/CN=sweep test CA'],
    ...['-addext', 'basicConstraints=critical,CA:TRUE'],
    ...['-addext', 'keyUsage=critical,keyCertSign', '-out', 'ca.pem'],
  );

  const issue = async (name: string, subject: string, extensions: string) => {
    newKey(`${name}.key`);
    openssl('req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`);
    await writeFile(file(`${name}.ext`), extensions);
    openssl(
      ...['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key'],
      ...['-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.pem`],
    );
  };
  await issue(
    'server',
    '/CN=localhost',
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n',
  );
  await issue('client', '/CN=sweep test client', 'extendedKeyUsage=clientAuth\n');

  return {
    dir,
    ca: file('ca.pem'),
    serverCert: file('server.pem'),
    serverKey: file('server.key'),
    clientCert: file('client.pem'),
    clientKey: file('client.key'),
  };
}

/** A running gateway; `close()` stops it (safe to call twice). */
export interface TlsGateway {
  address: string;
  /** gRPC calls forwarded (right key) and refused (missing or wrong key). */
  calls: { forwarded: number; refused: number };
  close(): Promise<void>;
}

/** Starts a gateway on a free loopback port in front of the plaintext server at `target`. */
export async function startTlsGateway(options: {
  target: string;
  certificates: TestCertificates;
  apiKey: string;
}): Promise<TlsGateway> {
  const { certificates } = options;
  const upstream = http2.connect(`http://${options.target}`);
  upstream.on('error', () => undefined);
  const calls = { forwarded: 0, refused: 0 };

  const server = http2.createSecureServer({
    key: await readFile(certificates.serverKey),
    cert: await readFile(certificates.serverCert),
    ca: await readFile(certificates.ca),
    requestCert: true,
    rejectUnauthorized: true,
  });
  server.on('sessionError', () => undefined);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });

  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    if (headers.authorization !== `Bearer ${options.apiKey}`) {
      calls.refused += 1;
      stream.respond(
        {
          ':status': 200,
          'content-type': 'application/grpc',
          'grpc-status': '16',
          'grpc-message': 'invalid API key',
        },
        { endStream: true },
      );
      return;
    }

    calls.forwarded += 1;
    const forwardHeaders: http2.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(headers)) {
      if (name.startsWith(':') && name !== ':path' && name !== ':method') continue;
      forwardHeaders[name] = value;
    }
    const call = upstream.request(forwardHeaders);
    call.on('error', () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    stream.on('close', () => call.close());

    let trailers: http2.OutgoingHttpHeaders = {};
    call.on('trailers', (received) => (trailers = stripPseudo(received)));
    call.on('response', (response) => {
      // A trailers-only answer (an error) carries grpc-status in its one header block.
      if (response['grpc-status'] !== undefined) {
        stream.respond(stripPseudo(response, true), { endStream: true });
        return;
      }
      stream.respond(stripPseudo(response, true), { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers(trailers));
      call.pipe(stream);
    });
    stream.pipe(call);
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    address: `127.0.0.1:${port}`,
    calls,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Workers' long polls would keep it open: end every session now.
        for (const session of sessions) session.destroy();
        upstream.destroy();
      })),
  };
}

/** Headers without the pseudo-headers (except `:status` when `keepStatus`). */
function stripPseudo(
  headers: http2.IncomingHttpHeaders,
  keepStatus = false,
): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') && !(keepStatus && name === ':status')) continue;
    out[name] = value;
  }
  return out;
}
