/**
 * TLS, API-key and header settings for a Temporal cluster, read as Temporal's own environment
 * configuration: environment variables over a profile of a `temporal.toml`. Where each comes
 * from, when TLS is on, and the message for each setting that cannot be used.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { ConfigError } from '../../lib/errors.js';
import { resolveTemporalSettings } from '../../temporal/config.js';
import { makeCertificates, type TestCertificates } from '../integration/tls-gateway.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('temporal TLS and API key settings', () => {
  let dir: string;
  let certs: string;
  /** No Temporal config file of the machine's user is read. */
  let noFile: NodeJS.ProcessEnv;
  /** A CA with a client certificate it signed, made by openssl. */
  let real: TestCertificates;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sweep-tls-config-'));
    certs = join(dir, 'certs');
    await mkdir(certs);
    await writeFile(join(certs, 'client.pem'), PEM);
    await writeFile(join(certs, 'plain.txt'), 'not a certificate\n');
    noFile = { TEMPORAL_CONFIG_FILE: join(dir, 'absent.toml') };
    real = await makeCertificates();
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
    if (real !== undefined) await rm(real.dir, { recursive: true, force: true });
  });

  /** Settings for a cluster at lab:7233 unless `env` says otherwise. */
  const settings = (env: NodeJS.ProcessEnv) =>
    resolveTemporalSettings({}, { ...noFile, TEMPORAL_ADDRESS: 'lab:7233', ...env }, dir);

  /** The message of the ConfigError that resolving these settings throws. */
  function problem(env: NodeJS.ProcessEnv): string {
    try {
      settings(env);
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      return error.message;
    }
    assert.fail('no ConfigError');
  }

  test('tls - none of it set: plaintext, no key, no headers', () => {
    const plain = settings({});
    assert.deepEqual([plain.tls, plain.apiKey, plain.metadata], [null, null, {}]);
  });

  test('tls - files from the environment are read; an API key alone turns TLS on', () => {
    const withFiles = settings({
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: real.ca,
      TEMPORAL_TLS_CLIENT_CERT_PATH: real.clientCert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: real.clientKey,
      TEMPORAL_TLS_SERVER_NAME: 'temporal.lab',
      TEMPORAL_GRPC_META_X_TEAM: 'vision',
    });
    const bytes = (data: Uint8Array | undefined) => Buffer.from(data ?? []);
    assert.equal(withFiles.tls?.serverNameOverride, 'temporal.lab');
    assert.deepEqual(bytes(withFiles.tls?.serverRootCACertificate), readFileSync(real.ca));
    assert.deepEqual(bytes(withFiles.tls?.clientCertPair?.crt), readFileSync(real.clientCert));
    assert.deepEqual(bytes(withFiles.tls?.clientCertPair?.key), readFileSync(real.clientKey));
    assert.deepEqual(withFiles.metadata, { 'x-team': 'vision' });

    const cloud = settings({ TEMPORAL_API_KEY: ' key-1 ' });
    assert.deepEqual(cloud.tls, {}, 'TLS with the system roots');
    assert.equal(cloud.apiKey, 'key-1');

    assert.deepEqual(settings({ TEMPORAL_TLS: 'true' }).tls, {});
    assert.equal(settings({ TEMPORAL_TLS: 'false', TEMPORAL_API_KEY: 'k' }).tls, null);
  });

  test('tls - TEMPORAL_TLS in any letter case; anything else is refused, never read as off', () => {
    for (const on of ['True', 'YES', 'on', '1']) {
      assert.deepEqual(settings({ TEMPORAL_TLS: on, TEMPORAL_API_KEY: 'k' }).tls, {}, on);
    }
    assert.equal(settings({ TEMPORAL_TLS: 'Off', TEMPORAL_API_KEY: 'k' }).tls, null);
    assert.equal(
      problem({ TEMPORAL_TLS: 'maybe', TEMPORAL_API_KEY: 'k' }),
      'TEMPORAL_TLS must be true or false, got "maybe"',
    );
  });

  test('tls - a key of another certificate, or a folder as the CA, is named before connecting',
    async () => {
      const [one, other] = await Promise.all([makeCertificates(), makeCertificates()]);
      try {
        assert.equal(
          problem({
            TEMPORAL_TLS_CLIENT_CERT_PATH: one.clientCert,
            TEMPORAL_TLS_CLIENT_KEY_PATH: other.clientKey,
          }),
          'TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH (or tls.client_*): ' +
            'the key does not belong to the certificate',
        );
        assert.equal(
          problem({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: one.dir }),
          `TEMPORAL_TLS_SERVER_CA_CERT_PATH (or tls.server_ca_cert_path): cannot read ${one.dir} ` +
            '(a folder)',
        );
        const good = settings({
          TEMPORAL_TLS_SERVER_CA_CERT_PATH: one.ca,
          TEMPORAL_TLS_CLIENT_CERT_PATH: one.clientCert,
          TEMPORAL_TLS_CLIENT_KEY_PATH: one.clientKey,
        });
        assert.ok(good.tls?.clientCertPair !== undefined);
      } finally {
        await Promise.all([one, other].map((set) => rm(set.dir, { recursive: true, force: true })));
      }
    });

  test('tls - an address that is not host:port is refused at once', () => {
    assert.equal(
      problem({ TEMPORAL_ADDRESS: '127.0.0.1' }),
      'the Temporal address "127.0.0.1" is not host:port',
    );
    assert.equal(settings({ TEMPORAL_ADDRESS: '[::1]:7233' }).address, '[::1]:7233');
  });

  test('tls - a temporal.toml profile gives TLS, and address and namespace last', async () => {
    const file = join(dir, 'temporal.toml');
    await writeFile(
      file,
      '[profile.lab]\naddress = "temporal.lab:7233"\nnamespace = "vision"\n' +
        `[profile.lab.tls]\nserver_ca_cert_path = "${real.ca}"\n`,
    );
    const env = { TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'lab' };

    const fromProfile = resolveTemporalSettings({}, env, dir);
    assert.equal(fromProfile.address, 'temporal.lab:7233');
    assert.equal(fromProfile.namespace, 'vision');
    assert.ok(fromProfile.tls?.serverRootCACertificate !== undefined);

    const flagged = resolveTemporalSettings({ temporalAddress: 'other:7233' }, env, dir);
    assert.equal(flagged.address, 'other:7233', 'the flag wins over the profile');

    const empty = join(dir, 'empty.toml');
    await writeFile(empty, '');
    const blank = resolveTemporalSettings({}, { TEMPORAL_CONFIG_FILE: empty }, dir);
    assert.deepEqual([blank.address, blank.tls], [null, null], 'an empty file holds nothing');

    assert.equal(
      problem({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'nope' }),
      `Temporal client settings (environment and ${file}): Profile 'nope' not found in ` +
        'config data',
    );
  });

  test('tls - a missing file, a lone certificate, a file that is not PEM: each named', () => {
    assert.equal(
      problem({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(certs, 'missing.pem') }),
      'TEMPORAL_TLS_SERVER_CA_CERT_PATH (or tls.server_ca_cert_path): cannot read ' +
        `${join(certs, 'missing.pem')} (no such file)`,
    );
    assert.equal(
      problem({ TEMPORAL_TLS_CLIENT_CERT_PATH: join(certs, 'client.pem') }),
      'a client certificate is set but TEMPORAL_TLS_CLIENT_KEY_PATH (or tls.client_key_path) ' +
        'is not: mTLS needs both',
    );
    assert.equal(
      problem({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(certs, 'plain.txt') }),
      'TEMPORAL_TLS_SERVER_CA_CERT_PATH (or its _DATA or profile twin) is not PEM: no -----BEGIN ' +
        'line',
    );
  });

  test('tls - set without a cluster address: an error before anything starts', () => {
    assert.equal(
      problem({ TEMPORAL_ADDRESS: '', TEMPORAL_API_KEY: 'k' }),
      'TEMPORAL_API_KEY is set but no Temporal address is (the embedded server takes no TLS ' +
        'or key)',
    );
    assert.equal(
      problem({ TEMPORAL_ADDRESS: '', TEMPORAL_TLS: 'true' }),
      'TLS settings are set but no Temporal address is (the embedded server takes no TLS or key)',
    );
  });
});
