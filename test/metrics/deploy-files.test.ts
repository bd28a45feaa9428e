/**
 * The deployment files in deploy/: Docker's own check of the compose file where the docker
 * client has compose, and checks that the files agree with each other (mount sources exist,
 * ports and names match) everywhere.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { parse as parseYaml, parseAllDocuments } from 'yaml';

import { runCommand } from './helpers.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const deployDir = path.join(repo, 'deploy');
const composeFile = path.join(deployDir, 'docker-compose.yml');

/** The `sweep worker` flags the deploy files pass (the worker CLI's names). */
const WORKER_FLAGS = [
  '--slots',
  '--gpus',
  '--task-queue',
  '--temporal-address',
  '--namespace',
  '--metrics-port',
];

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  volumes?: string[];
  deploy?: {
    resources?: {
      reservations?: { devices?: { driver: string; count: string; capabilities: string[] }[] };
    };
  };
}

async function readYaml<T>(file: string): Promise<T> {
  return parseYaml(await readFile(file, 'utf8')) as T;
}

async function compose(): Promise<{ services: Record<string, ComposeService> }> {
  return await readYaml(composeFile);
}

/** Every Kubernetes object in deploy/k8s, by `Kind/name`. */
async function k8sObjects(): Promise<Map<string, Record<string, any>>> {
  const objects = new Map<string, Record<string, any>>();
  const dir = path.join(deployDir, 'k8s');
  for (const file of (await readdir(dir)).filter((name) => name.endsWith('.yaml'))) {
    for (const document of parseAllDocuments(await readFile(path.join(dir, file), 'utf8'))) {
      assert.deepEqual(document.errors, [], file);
      const object = document.toJS() as Record<string, any> | null;
      if (object !== null) objects.set(`${object.kind}/${object.metadata.name}`, object);
    }
  }
  return objects;
}

describe('deploy files', { timeout: 60_000 }, () => {
  test('docker compose config accepts deploy/docker-compose.yml', async (t) => {
    const version = await runCommand('docker', ['compose', 'version'], { timeoutMs: 10_000 });
    if (version.code !== 0) {
      const why = (version.stderr || version.stdout).trim().split('\n')[0];
      t.skip(`the docker client here has no compose (docker compose version: ${why})`);
      return;
    }

    const checked = await runCommand('docker', ['compose', '-f', composeFile, 'config', '-q'], {
      timeoutMs: 30_000,
    });
    assert.equal(checked.code, 0, checked.stderr);
  });

  test('the compose file mounts files that exist and runs the worker with its flags', async () => {
    const { services } = await compose();
    assert.deepEqual(Object.keys(services).sort(), [
      'grafana',
      'mlflow',
      'mlflow-db',
      'prometheus',
      'temporal',
      'temporal-db',
      'temporal-namespace',
      'temporal-schema',
      'temporal-ui',
      'worker',
    ]);

    const missing: string[] = [];
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0] as string;
        if (source.startsWith('./') && !existsSync(path.join(deployDir, source))) {
          missing.push(`${name}: ${source}`);
        }
      }
    }
    assert.deepEqual(missing, []);

    const worker = services.worker as ComposeService;
    const build = worker.build as { context: string; dockerfile: string };
    assert.ok(existsSync(path.join(deployDir, build.context, build.dockerfile)));
    const flags = (worker.command ?? []).filter((arg) => arg.startsWith('--'));
    assert.deepEqual(flags, WORKER_FLAGS);
    assert.deepEqual(worker.deploy?.resources?.reservations?.devices, [
      { driver: 'nvidia', count: 'all', capabilities: ['gpu'] },
    ]);
  });

  test('Grafana loads the dashboard from its compose mount, on the provisioned uid', async () => {
    const { services } = await compose();
    const grafanaVolumes = services.grafana?.volumes ?? [];
    const dashboardsMount = grafanaVolumes.find((volume) => volume.startsWith('./grafana/dash'));
    const provider = await readYaml<{ providers: { options: { path: string } }[] }>(
      path.join(deployDir, 'grafana/provisioning/dashboards/attention-sweep.yml'),
    );
    assert.equal(dashboardsMount?.split(':')[1], provider.providers[0]?.options.path);

    const datasources = await readYaml<{ datasources: { uid: string; url: string }[] }>(
      path.join(deployDir, 'grafana/provisioning/datasources/prometheus.yml'),
    );
    const uid = datasources.datasources[0]?.uid;
    assert.equal(datasources.datasources[0]?.url, 'http://prometheus:9090');

    const dashboard = JSON.parse(
      await readFile(path.join(deployDir, 'grafana/dashboards/attention-sweep.json'), 'utf8'),
    ) as {
      panels: {
        id: number;
        gridPos: { x: number; w: number };
        datasource: { uid: string };
        targets: { datasource: { uid: string } }[];
      }[];
    };
    const ids = dashboard.panels.map((panel) => panel.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    for (const panel of dashboard.panels) {
      assert.ok(panel.gridPos.x + panel.gridPos.w <= 24, `panel ${panel.id} fits the grid`);
      assert.equal(panel.datasource.uid, uid);
      for (const target of panel.targets) assert.equal(target.datasource.uid, uid);
    }
  });

  test('k8s: one GPU and one slot a pod, both metrics ports scraped, KEDA scales it', async () => {
    const objects = await k8sObjects();
    const deployment = objects.get('Deployment/sweep-worker');
    assert.ok(deployment, `objects found: ${[...objects.keys()].join(', ')}`);

    const container = deployment.spec.template.spec.containers[0];
    const args = container.args as string[];
    assert.deepEqual(
      args.filter((arg) => arg.startsWith('--')),
      WORKER_FLAGS,
    );
    assert.equal(args[args.indexOf('--slots') + 1], '1');
    assert.equal(container.resources.requests['nvidia.com/gpu'], 1);
    assert.equal(container.resources.limits['nvidia.com/gpu'], 1);

    const ports = (container.ports as { name: string; containerPort: number }[]).map(
      (port) => `${port.name}:${port.containerPort}`,
    );
    assert.deepEqual(ports, ['metrics:9464', 'temporal-metrics:9465']);
    const monitor = objects.get('PodMonitor/sweep-workers');
    const scraped = monitor?.spec.podMetricsEndpoints.map(
      (endpoint: { port: string; relabelings: { replacement: string }[] }) =>
        `${endpoint.port}->${endpoint.relabelings[0]?.replacement}`,
    );
    assert.deepEqual(scraped, ['metrics->sweep-workers', 'temporal-metrics->temporal-sdk']);

    const claims = deployment.spec.template.spec.volumes
      .filter((volume: { persistentVolumeClaim?: object }) => volume.persistentVolumeClaim)
      .map((volume: { persistentVolumeClaim: { claimName: string } }) =>
        `PersistentVolumeClaim/${volume.persistentVolumeClaim.claimName}`,
      );
    assert.deepEqual(claims.filter((claim: string) => !objects.has(claim)), []);

    const scaler = objects.get('ScaledObject/sweep-worker');
    assert.equal(scaler?.spec.scaleTargetRef.name, 'sweep-worker');
    const triggers = scaler?.spec.triggers as { type: string; metadata: Record<string, string> }[];
    assert.deepEqual(
      triggers.map((trigger) => trigger.type),
      ['temporal', 'prometheus'],
    );
    const queue = objects.get('ConfigMap/sweep-worker')?.data.SWEEP_TASK_QUEUE;
    assert.equal(triggers[0]?.metadata.taskQueue, queue);
    assert.equal(triggers[0]?.metadata.queueTypes, 'activity');
  });
});
