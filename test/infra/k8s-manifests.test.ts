/**
 * The Kubernetes manifests under k8s/ against the schema of each kind
 * (kubernetes-models, with the Prometheus Operator's and the Gateway API's),
 * against the settings table (the ports, probes, setting names and secrets the
 * manifests use are the ones the service reads), and the monitoring component's
 * alerts against docs/operations.md and the metrics the service exports.
 *
 * Every target is rendered by `kubectl kustomize` (configMapGenerator, components
 * and replacements are kustomize's own): without kubectl the suite fails naming
 * it; `npm test`'s pretest step installs it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { loadAll } from 'js-yaml';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { parser as promql } from '@prometheus-io/lezer-promql';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { ILifecycleHandler } from 'kubernetes-models/v1/LifecycleHandler';
import { loadSettings } from '../../src/config/load';
import { settingsByName, settingsTable } from '../../src/config/settings-table';
import { createMetrics } from '../../src/observability/metrics';

const ROOT = resolve(__dirname, '../..');
const K8S = join(ROOT, 'k8s');
const APP = 'miles-bff';

interface KObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

interface Kustomization {
  kind?: string;
  namespace?: string;
  resources?: string[];
  components?: string[];
  patches?: { path?: string }[];
  configMapGenerator?: { name: string; envs?: string[] }[];
  images?: { name: string; newName?: string; newTag?: string }[];
}

type Model = { validate(): void };
const MODELS: Record<string, new (data: never) => Model> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/Ingress': Ingress,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
  'gateway.networking.k8s.io/v1/HTTPRoute': HTTPRoute,
};

function validate(obj: KObject): void {
  const model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  if (!model) throw new Error(`${obj.apiVersion} ${obj.kind} ${obj.metadata.name}: no model in MODELS; add one`);
  try {
    new model(obj as never).validate();
  } catch (err) {
    throw new Error(`${obj.kind}/${obj.metadata.name}: ${(err as Error).message}`);
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function readObjects(file: string): KObject[] {
  const docs = loadAll(readFileSync(file, 'utf8')).filter((d) => d !== null && d !== undefined);
  return docs.map((doc, i) => {
    if (!isRecord(doc) || typeof doc.apiVersion !== 'string' || typeof doc.kind !== 'string') {
      throw new Error(`${relative(ROOT, file)} document ${i + 1}: no apiVersion/kind`);
    }
    return doc as unknown as KObject;
  });
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

const kustomizationOf = (dir: string): Kustomization => readObjects(join(dir, 'kustomization.yaml'))[0] as unknown as Kustomization;

// ---- rendering -------------------------------------------------------------

const KUBECTL_MISSING =
  "kubectl not found on PATH: the manifest tests render k8s/ with `kubectl kustomize` (kustomize 5). npm test's pretest step installs it (apt-get install kubectl).";

function render(dir: string): KObject[] {
  let text: string;
  try {
    text = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(KUBECTL_MISSING);
    throw err;
  }
  return loadAll(text).filter(isRecord) as unknown as KObject[];
}

// ---- helpers on objects ----------------------------------------------------

interface PodSpecLike {
  containers?: IContainer[];
  terminationGracePeriodSeconds?: number;
  securityContext?: Record<string, unknown>;
  volumes?: { name: string; emptyDir?: unknown; persistentVolumeClaim?: unknown }[];
}

function podSpecOf(obj: KObject): PodSpecLike | undefined {
  const spec = obj.spec;
  if (!isRecord(spec) || !isRecord(spec.template) || !isRecord(spec.template.spec)) return undefined;
  return spec.template.spec as PodSpecLike;
}

function find(objects: KObject[], kind: string, name: string): KObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind}/${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}

function appContainer(objects: KObject[]): IContainer {
  const c = podSpecOf(find(objects, 'Deployment', APP))?.containers?.find((x) => x.name === APP);
  if (!c) throw new Error(`Deployment ${APP} has no container ${APP}`);
  return c;
}

const defaultOf = (name: string): string => {
  const value = settingsByName.get(name)?.default;
  if (value === undefined) throw new Error(`${name} has no default in the settings table`);
  return value;
};
const PORT = Number(defaultOf('PORT'));
const INTERNAL_PORT = Number(defaultOf('INTERNAL_PORT'));
const secretNames = new Set(settingsTable.filter((s) => s.secret).map((s) => s.name));

function portNumber(container: IContainer, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return port;
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

/** Seconds a preStop hook waits: the `sleep` action, `sleep N`, or node's setTimeout(…, ms). */
function preStopSeconds(hook: ILifecycleHandler | undefined): number {
  if (hook?.sleep) return hook.sleep.seconds;
  const cmd = hook?.exec?.command ?? [];
  const sleep = cmd.join(' ').match(/\bsleep (\d+)/);
  if (sleep) return Number(sleep[1]);
  const timer = cmd.join(' ').match(/setTimeout\([^,]*,\s*(\d+)\)/);
  if (timer) return Number(timer[1]) / 1000;
  throw new Error(`cannot tell how long the preStop hook waits: ${JSON.stringify(hook)}`);
}

function dataOf(obj: KObject): Record<string, string> {
  const data = { ...(obj.data as Record<string, string> | undefined), ...(obj.stringData as Record<string, string> | undefined) };
  return data;
}

/** The Secret the Deployment reads: rendered, or else the template kept beside the overlay (or in base). */
function secretOf(objects: KObject[], dir: string): { secret: KObject; rendered: boolean } {
  const name = appContainer(objects).envFrom?.find((e) => e.secretRef)?.secretRef?.name;
  if (!name) throw new Error('the Deployment takes no Secret through envFrom');
  const rendered = objects.find((o) => o.kind === 'Secret' && o.metadata.name === name);
  if (rendered) return { secret: rendered, rendered: true };
  for (const template of [join(dir, 'secret.example.yaml'), join(K8S, 'base', 'secret.example.yaml')]) {
    const found = existsSync(template) ? readObjects(template).find((o) => o.kind === 'Secret' && o.metadata.name === name) : undefined;
    if (found) return { secret: found, rendered: false };
  }
  throw new Error(`Secret ${name} is neither rendered nor templated`);
}

/** What an operator would put in place of the templates' REPLACE_ME, by shape only. */
const WELL_FORMED: Record<string, string> = {
  APM_PARTNER_SECRET: 'partner-secret-of-the-test',
  SESSION_SECRET: 's'.repeat(48),
  TOKEN_ENCRYPTION_KEY: 'ab'.repeat(32),
  INTERNAL_API_KEYS: `crm:${'k'.repeat(32)}`,
  REDIS_URL: 'rediss://redis.example.com:6380/0',
  REDIS_PASSWORD: 'redis-password-of-the-test',
};

// ---- the files themselves -------------------------------------------------

const allFiles = yamlFiles(K8S);
const kustomizationDirs = allFiles.filter((f) => basename(f) === 'kustomization.yaml').map(dirname);
const patchFiles = new Set(
  kustomizationDirs.flatMap((dir) => (kustomizationOf(dir).patches ?? []).flatMap((p) => (p.path ? [resolve(dir, p.path)] : []))),
);
const resourceFiles = new Set(kustomizationDirs.flatMap((dir) => (kustomizationOf(dir).resources ?? []).map((r) => resolve(dir, r))));
const componentDirs = new Set(kustomizationDirs.flatMap((dir) => (kustomizationOf(dir).components ?? []).map((c) => resolve(dir, c))));
const envFiles = kustomizationDirs.flatMap((dir) => (kustomizationOf(dir).configMapGenerator ?? []).flatMap((g) => (g.envs ?? []).map((e) => resolve(dir, e))));

describe('k8s/ files', () => {
  it('has a base and the production and development overlays', () => {
    expect(kustomizationDirs.map((d) => relative(K8S, d)).sort()).toEqual([
      'base',
      'components/gateway-api',
      'components/monitoring',
      'overlays/development',
      'overlays/production',
    ]);
    for (const dir of kustomizationDirs.filter((d) => relative(K8S, d).startsWith('components/'))) {
      expect([relative(K8S, dir), kustomizationOf(dir).kind]).toEqual([relative(K8S, dir), 'Component']);
      expect(componentDirs.has(dir)).toBe(true);
    }
  });

  it('generates the settings ConfigMap from env files whose names the settings table knows', () => {
    expect(envFiles.map((f) => relative(K8S, f)).sort()).toEqual(['base/config.env', 'overlays/development/config.env', 'overlays/production/config.env']);
    for (const file of envFiles) {
      for (const line of readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#'))) {
        const name = line.slice(0, line.indexOf('='));
        expect([relative(K8S, file), name, settingsByName.has(name) && !secretNames.has(name)]).toEqual([relative(K8S, file), name, true]);
      }
    }
  });

  it.each(allFiles.map((f) => [relative(ROOT, f), f]))('%s parses, and each document has a kind and a name', (_name, file) => {
    const objects = readObjects(file);
    expect(objects.length).toBeGreaterThan(0);
    for (const o of objects) if (o.kind !== 'Kustomization' && o.kind !== 'Component') expect(typeof o.metadata?.name).toBe('string');
  });

  it('validates every whole object (not the patches) against its kind', () => {
    const whole = allFiles.filter((f) => basename(f) !== 'kustomization.yaml' && !patchFiles.has(f));
    expect(whole.length).toBeGreaterThan(8);
    for (const f of whole) for (const o of readObjects(f)) validate(o);
  });

  it('leaves no file unused: each is a resource, a patch, a kustomization or a Secret template', () => {
    for (const f of allFiles) {
      const used = resourceFiles.has(f) || patchFiles.has(f) || basename(f) === 'kustomization.yaml';
      if (!used) expect(relative(K8S, f)).toMatch(/secret\.example\.yaml$/);
    }
    for (const f of [...resourceFiles, ...patchFiles]) expect(existsSync(f)).toBe(true);
  });

  it('keeps the Secret templates out of every kustomization, with only placeholders in them', () => {
    const templates = allFiles.filter((f) => basename(f) === 'secret.example.yaml');
    expect(templates.length).toBeGreaterThan(0);
    for (const f of templates) {
      expect(resourceFiles.has(f)).toBe(false);
      for (const o of readObjects(f)) {
        expect(o.kind).toBe('Secret');
        for (const [key, value] of Object.entries(dataOf(o))) {
          expect([key, value]).toEqual([key, expect.stringContaining('REPLACE_ME')]);
        }
      }
    }
  });
});

describe.each(['base', 'overlays/production', 'overlays/development'])('rendered %s', (target) => {
  const dir = join(K8S, target);
  let objects: KObject[] = [];
  beforeAll(() => {
    objects = render(dir);
  });
  const deployment = (): KObject => find(objects, 'Deployment', APP);
  const configMaps = (): KObject[] => objects.filter((o) => o.kind === 'ConfigMap');
  const configValue = (name: string): string | undefined =>
    configMaps().map(dataOf).find((d) => name in d)?.[name];

  it('gives only objects that validate against their kind', () => {
    expect(objects.length).toBeGreaterThanOrEqual(8);
    objects.forEach(validate);
  });

  it('runs two replicas or more, autoscaled on CPU from two, with at least one kept through disruptions', () => {
    expect((deployment().spec as { replicas: number }).replicas).toBeGreaterThanOrEqual(2);
    const hpa = new HorizontalPodAutoscaler(find(objects, 'HorizontalPodAutoscaler', APP) as never);
    expect(hpa.spec?.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: APP });
    expect(hpa.spec?.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.spec?.metrics?.some((m) => m.type === 'Resource' && m.resource?.name === 'cpu')).toBe(true);
    const pdb = new PodDisruptionBudget(find(objects, 'PodDisruptionBudget', APP) as never);
    expect(pdb.spec?.minAvailable).toBe(1);
    const podLabels = (deployment().spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
    expect(podLabels).toMatchObject(pdb.spec?.selector?.matchLabels ?? { missing: 'selector' });
  });

  it('names the container ports http and internal, on the PORT and INTERNAL_PORT defaults', () => {
    const ports = appContainer(objects).ports?.map((p) => [p.name, p.containerPort]);
    expect(ports).toEqual(expect.arrayContaining([['http', PORT], ['internal', INTERNAL_PORT]]));
    expect(configValue('PORT') ?? String(PORT)).toBe(String(PORT));
    expect(configValue('INTERNAL_PORT') ?? String(INTERNAL_PORT)).toBe(String(INTERNAL_PORT));
  });

  it('probes /healthz (liveness, start-up) and /readyz (readiness) on the internal port', () => {
    const c = appContainer(objects);
    expect(c.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(portNumber(c, c.livenessProbe?.httpGet?.port)).toBe(INTERNAL_PORT);
    expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(portNumber(c, c.readinessProbe?.httpGet?.port)).toBe(INTERNAL_PORT);
    if (c.startupProbe) {
      expect(c.startupProbe.httpGet?.path).toBe('/healthz');
      expect(portNumber(c, c.startupProbe.httpGet?.port)).toBe(INTERNAL_PORT);
    }
  });

  it('gives more grace than preStop plus SHUTDOWN_TIMEOUT_MS', () => {
    const shutdownMs = Number(configValue('SHUTDOWN_TIMEOUT_MS') ?? defaultOf('SHUTDOWN_TIMEOUT_MS'));
    const preStop = preStopSeconds(appContainer(objects).lifecycle?.preStop);
    expect(preStop).toBeGreaterThan(0);
    expect(podSpecOf(deployment())?.terminationGracePeriodSeconds).toBeGreaterThan(preStop + shutdownMs / 1000);
  });

  it('runs locked down: non-root 1000, read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp', () => {
    const c = appContainer(objects);
    const pod = podSpecOf(deployment())?.securityContext ?? {};
    // The container's own settings win over the pod's; either may carry them.
    const effective = { ...pod, ...c.securityContext } as Record<string, unknown>;
    expect(effective).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1000,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.securityContext?.capabilities?.drop).toContain('ALL');
    expect(c.securityContext?.capabilities?.add ?? []).toEqual([]);
    const tmp = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
    expect(podSpecOf(deployment())?.volumes?.find((v) => v.name === tmp?.name)?.emptyDir).toBeDefined();
  });

  it('sets requests and limits of CPU and memory', () => {
    const r = appContainer(objects).resources;
    for (const part of [r?.requests, r?.limits]) expect(Object.keys(part ?? {}).sort()).toEqual(['cpu', 'memory']);
  });

  it('takes its settings from the ConfigMap and the Secret, both of names the settings table knows', () => {
    const envFrom = appContainer(objects).envFrom ?? [];
    const cmName = envFrom.find((e) => e.configMapRef)?.configMapRef?.name;
    expect(configMaps().map((c) => c.metadata.name)).toContain(cmName);
    const { secret } = secretOf(objects, dir);
    for (const key of Object.keys(dataOf(find(objects, 'ConfigMap', cmName ?? '')))) {
      const fileOfSecret = key.endsWith('_FILE') && secretNames.has(key.slice(0, -'_FILE'.length));
      expect([key, settingsByName.has(key) || fileOfSecret]).toEqual([key, true]);
      expect([key, secretNames.has(key)]).toEqual([key, false]);
    }
    for (const key of Object.keys(dataOf(secret))) expect([key, secretNames.has(key)]).toEqual([key, true]);
    // Settings come from envFrom only; the one variable set here is Node's own heap bound.
    expect((appContainer(objects).env ?? []).map((e) => e.name)).toEqual(['NODE_OPTIONS']);
  });

  it('generates the ConfigMap under a content-hashed name, so that a changed setting rolls the pods', () => {
    const cmName = appContainer(objects).envFrom?.find((e) => e.configMapRef)?.configMapRef?.name ?? '';
    expect(cmName).toMatch(/^miles-bff-config-[a-z0-9]{10}$/);
    const cm = find(objects, 'ConfigMap', cmName);
    expect(dataOf(cm).PORT).toBe(String(PORT));
    expect(objects.some((o) => o.metadata.name === 'miles-bff-params')).toBe(false);
  });

  it('bounds the V8 heap at about half the memory limit', () => {
    const c = appContainer(objects);
    const heapMb = Number(/--max-old-space-size=(\d+)/.exec(c.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '')?.[1]);
    const limit = /^(\d+)(Mi|Gi)$/.exec(String(c.resources?.limits?.memory ?? ''));
    expect(limit).not.toBeNull();
    const limitMb = Number(limit![1]) * (limit![2] === 'Gi' ? 1024 : 1);
    expect(heapMb).toBeGreaterThanOrEqual(limitMb * 0.4);
    expect(heapMb).toBeLessThanOrEqual(limitMb * 0.6);
  });

  it("keeps the image's small young generation beside the heap bound", () => {
    const options = appContainer(objects).env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
    const image = /^ENV\s+NODE_OPTIONS=("?)(.*)\1\s*$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[2] ?? '';
    // NODE_OPTIONS of the Deployment replaces the image's: the young generation's bound must come along.
    const semi = (text: string): string | undefined => /--max-semi-space-size=(\d+)/.exec(text)?.[1];
    expect(semi(image)).toBeDefined();
    expect(semi(options)).toBe(semi(image));
  });

  it('spreads the replicas over zones and nodes, as a preference', () => {
    const spread = (podSpecOf(deployment()) as { topologySpreadConstraints?: Record<string, unknown>[] }).topologySpreadConstraints ?? [];
    const podLabels = (deployment().spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
    expect(spread.map((t) => t.topologyKey).sort()).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
    for (const t of spread) {
      expect(t).toMatchObject({ maxSkew: 1, whenUnsatisfiable: 'ScheduleAnyway', matchLabelKeys: ['pod-template-hash'] });
      expect(podLabels).toMatchObject((t.labelSelector as { matchLabels: Record<string, string> }).matchLabels);
    }
  });

  // The root is the demo page's, which production does not serve.
  const publicEntries = target === 'overlays/production' ? [['/api', 'Prefix']] : [['/', 'Exact'], ['/api', 'Prefix']];

  it(`routes only ${publicEntries.map(([p, t]) => `${p} (${t})`).join(' and ')} to the public Service`, () => {
    const ingress = new Ingress(find(objects, 'Ingress', APP) as never);
    expect(ingress.spec?.ingressClassName).toBeUndefined();
    const paths = (ingress.spec?.rules ?? []).flatMap((r) => r.http?.paths ?? []);
    expect(paths.map((p) => [p.path, p.pathType]).sort()).toEqual(publicEntries);
    for (const p of paths) {
      expect(p.path).not.toMatch(/^\/(internal|metrics|healthz|readyz)/);
      expect(p.backend.service?.name).toBe(APP);
    }
    expect(ingress.spec?.defaultBackend).toBeUndefined();
    const publicService = new Service(find(objects, 'Service', APP) as never);
    const backendPort = paths[0]?.backend.service?.port;
    const servicePort = publicService.spec?.ports?.find((p) => p.name === backendPort?.name || p.port === backendPort?.number);
    expect(portNumber(appContainer(objects), servicePort?.targetPort)).toBe(PORT);
  });

  it('has a ClusterIP Service of its own for the internal port, and no public Service port reaching it', () => {
    const internal = new Service(find(objects, 'Service', `${APP}-internal`) as never);
    expect(internal.spec?.type ?? 'ClusterIP').toBe('ClusterIP');
    expect(internal.spec?.ports?.map((p) => portNumber(appContainer(objects), p.targetPort))).toEqual([INTERNAL_PORT]);
    const pub = new Service(find(objects, 'Service', APP) as never);
    expect(pub.spec?.ports?.map((p) => portNumber(appContainer(objects), p.targetPort))).toEqual([PORT]);
  });

  it('opens 3000 to the ingress controller and 9091 only to labelled clients and Prometheus', () => {
    const np = new NetworkPolicy(find(objects, 'NetworkPolicy', APP) as never);
    const podLabels = (deployment().spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
    expect(podLabels).toMatchObject(np.spec?.podSelector.matchLabels ?? { missing: 'selector' });
    const rules = np.spec?.ingress ?? [];
    const rulesFor = (port: number) => rules.filter((r) => r.ports?.some((p) => p.port === port));
    for (const r of rules) {
      expect(r.from?.length).toBeGreaterThan(0); // a rule without `from` admits everyone
      expect(r.ports?.length).toBeGreaterThan(0); // a rule without `ports` admits every port
    }
    // The namespace of base/params.yaml, put there by kustomize's replacement.
    const params = readObjects(join(K8S, 'base', 'params.yaml'))[0] as KObject & { data: { ingressNamespace: string } };
    expect(params.data.ingressNamespace).not.toBe('ingress-nginx');
    expect(rulesFor(PORT).flatMap((r) => r.from ?? [])).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': params.data.ingressNamespace } } },
    ]);
    const internalPeers = rulesFor(INTERNAL_PORT).flatMap((r) => r.from ?? []);
    expect(internalPeers).toHaveLength(2);
    expect(internalPeers).toContainEqual({ podSelector: { matchLabels: { 'miles-bff/client': 'true' } } });
    expect(internalPeers).toContainEqual({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } },
    });
    for (const r of rules) for (const p of r.ports ?? []) expect([PORT, INTERNAL_PORT]).toContain(p.port);
  });

  it('has each Service select the pods of exactly one Deployment', () => {
    const podLabels = objects
      .filter((o) => o.kind === 'Deployment')
      .map((d) => [d.metadata.name, (d.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels] as const);
    for (const svc of objects.filter((o) => o.kind === 'Service')) {
      const selector = (svc.spec as { selector: Record<string, string> }).selector;
      const selected = podLabels.filter(([, labels]) => Object.entries(selector).every(([k, v]) => labels[k] === v)).map(([name]) => name);
      expect([svc.metadata.name, selected.length]).toEqual([svc.metadata.name, 1]);
    }
  });

  it('asks Prometheus to scrape /metrics on the internal port', () => {
    const annotations = (deployment().spec as { template: { metadata: { annotations?: Record<string, string> } } }).template.metadata.annotations;
    expect(annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(INTERNAL_PORT), 'prometheus.io/path': '/metrics' });
  });

  if (target !== 'base') {
    it('gives settings that the service accepts at start (the Secret template filled with well-formed values)', () => {
      const { secret, rendered } = secretOf(objects, dir);
      const filled = (key: string, value: string): string => {
        if (rendered) return value;
        const sample = WELL_FORMED[key];
        if (!sample) throw new Error(`no well-formed sample for ${key}`);
        return sample;
      };
      const secrets = Object.fromEntries(Object.entries(dataOf(secret)).map(([k, v]) => [k, filled(k, v)]));
      const cm = find(objects, 'ConfigMap', appContainer(objects).envFrom?.find((e) => e.configMapRef)?.configMapRef?.name ?? '');
      expect(() => loadSettings({ ...dataOf(cm), ...secrets })).not.toThrow();
    });

    it('pins the image to a tag (no latest) and a namespace', () => {
      expect(appContainer(objects).image).toMatch(/:[\w][\w.-]*$/);
      expect(appContainer(objects).image).not.toMatch(/:latest$/);
      for (const o of objects) expect(o.metadata.namespace).toBeTruthy();
    });
  }

  if (target === 'overlays/production') {
    it('routes /api alone through the Gateway API as well, to the public Service, for the Ingress host', () => {
      const route = new HTTPRoute(find(objects, 'HTTPRoute', APP) as never);
      route.validate();
      expect(route.spec?.parentRefs?.map((p) => p.kind ?? 'Gateway')).toEqual(['Gateway']);
      const ingress = new Ingress(find(objects, 'Ingress', APP) as never);
      expect(route.spec?.hostnames).toEqual(ingress.spec?.rules?.map((r) => r.host));
      const rules = route.spec?.rules ?? [];
      expect(rules.flatMap((r) => r.matches ?? []).map((m) => [m.path?.value, m.path?.type])).toEqual([['/api', 'PathPrefix']]);
      const publicService = new Service(find(objects, 'Service', APP) as never);
      for (const r of rules) {
        expect(r.backendRefs?.map((b) => [b.name, b.port])).toEqual([[APP, publicService.spec?.ports?.[0]?.port]]);
      }
    });

    it('scrapes /metrics on the internal port of every pod with a PodMonitor', () => {
      const monitor = new PodMonitor(find(objects, 'PodMonitor', APP) as never);
      const podLabels = (deployment().spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
      expect(podLabels).toMatchObject(monitor.spec.selector.matchLabels ?? { missing: 'selector' });
      const endpoints = monitor.spec.podMetricsEndpoints ?? [];
      expect(endpoints.map((e) => [portNumber(appContainer(objects), e.port ?? undefined), e.path])).toEqual([[INTERNAL_PORT, '/metrics']]);
    });

    describe('the PrometheusRule', () => {
      interface AlertRule {
        alert: string;
        expr: string;
        for?: string;
        labels?: Record<string, string>;
        annotations?: Record<string, string>;
      }
      const alerts = (): AlertRule[] => {
        const rule = find(objects, 'PrometheusRule', APP) as KObject & { spec: { groups: { rules: AlertRule[] }[] } };
        return rule.spec.groups.flatMap((g) => g.rules);
      };
      const documented = [...readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8').matchAll(/^\| `(MilesBff\w+)` \| .* \| (\w+) \| .* \|$/gm)];

      it('holds exactly the alerts docs/operations.md describes, with their severity and a runbook', () => {
        expect(documented.length).toBeGreaterThanOrEqual(5);
        expect(alerts().map((a) => [a.alert, a.labels?.severity])).toEqual(documented.map(([, name, severity]) => [name, severity]));
        for (const a of alerts()) expect([a.alert, a.annotations?.runbook]).toEqual([a.alert, expect.stringMatching(/^docs\/operations\.md#[a-z0-9_-]+$/)]);
      });

      it('has expressions PromQL parses, on metrics and labels the service exports', async () => {
        // Each exported series name, with the label names its metric declares.
        const exported = new Map<string, Set<string>>();
        for (const metric of createMetrics().registry.getMetricsAsArray()) {
          const { name, labelNames, type } = metric as unknown as { name: string; labelNames?: string[]; type: string };
          const names = String(type) === 'histogram' ? ['_bucket', '_count', '_sum'].map((x) => name + x) : [name];
          for (const n of names) exported.set(n, new Set(labelNames ?? []));
        }
        const declared = (name: string): Set<string> => exported.get(name) ?? new Set();
        for (const a of alerts()) {
          const tree = promql.parse(a.expr);
          const errors: number[] = [];
          tree.iterate({ enter: (node) => void (node.type.isError ? errors.push(node.from) : undefined) });
          expect([a.alert, errors]).toEqual([a.alert, []]);
          for (const [, metric, matchers] of a.expr.matchAll(/\b(miles_bff_\w+)(?:\{([^}]*)\})?/g)) {
            expect([a.alert, metric, exported.has(metric!)]).toEqual([a.alert, metric, true]);
            for (const [, label] of (matchers ?? '').matchAll(/(\w+)\s*(?:=~|!=|!~|=)/g)) {
              expect([a.alert, metric, label, declared(metric!).has(label!)]).toEqual([a.alert, metric, label, true]);
            }
          }
        }
      });
    });

    it('runs with NODE_ENV=production, a real identity mode, https upstream and Secure cookies', () => {
      expect(configValue('NODE_ENV')).toBe('production');
      expect(['jwt', 'header']).toContain(configValue('IDENTITY_MODE'));
      expect(configValue('APM_BASE_URL')).toMatch(/^https:\/\/.*\/$/);
      expect(configValue('COOKIE_SECURE') ?? defaultOf('COOKIE_SECURE')).toBe('true');
    });

    it('renders no Secret (an apply must not overwrite the real one) and templates REDIS_URL in it', () => {
      expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
      const { secret, rendered } = secretOf(objects, dir);
      expect(rendered).toBe(false);
      expect(dataOf(secret).REDIS_URL).toMatch(/^rediss?:\/\//);
      expect(Object.keys(dataOf(secret))).toEqual(expect.arrayContaining(['APM_PARTNER_SECRET', 'SESSION_SECRET', 'REDIS_URL']));
    });
  }

  if (target === 'overlays/development') {
    it('adds one Redis without persistence, and points REDIS_URL at its Service', () => {
      const redis = new Deployment(find(objects, 'Deployment', `${APP}-redis`) as never);
      expect(redis.spec?.replicas).toBe(1);
      const pod = redis.spec?.template.spec;
      expect(pod?.volumes?.every((v) => v.emptyDir !== undefined)).toBe(true);
      expect(pod?.containers[0]?.args?.join(' ')).toMatch(/--save {2}--appendonly no/);
      expect(pod?.containers[0]?.image).toMatch(/^redis:\d+\.\d+\.\d+/);
      expect(objects.some((o) => o.kind === 'PersistentVolumeClaim' || o.kind === 'StatefulSet')).toBe(false);
      const service = new Service(find(objects, 'Service', `${APP}-redis`) as never);
      expect(service.spec?.selector).toEqual(redis.spec?.selector.matchLabels);
      const { secret, rendered } = secretOf(objects, dir);
      expect(rendered).toBe(true);
      const url = new URL(dataOf(secret).REDIS_URL ?? '');
      expect([url.protocol, url.hostname, Number(url.port)]).toEqual(['redis:', service.metadata?.name, service.spec?.ports?.[0]?.port]);
    });

    it('runs one sandbox simulator as the upstream, with the partner id and secret the service signs with', () => {
      const sandbox = new Deployment(find(objects, 'Deployment', `${APP}-sandbox`) as never);
      expect(sandbox.spec?.replicas).toBe(1);
      const c = sandbox.spec?.template.spec?.containers[0];
      expect(c?.image).toBe(appContainer(objects).image);
      const env = new Map((c?.env ?? []).map((e) => [e.name, e]));
      const service = new Service(find(objects, 'Service', `${APP}-sandbox`) as never);
      const url = new URL(configValue('APM_BASE_URL') ?? '');
      expect([url.hostname, url.port]).toEqual([service.metadata?.name, env.get('SANDBOX_PORT')?.value]);
      expect(env.get('SANDBOX_PARTNER_ID')?.value).toBe(configValue('APM_PARTNER_ID'));
      const { secret } = secretOf(objects, dir);
      expect(env.get('SANDBOX_PARTNER_SECRET')?.valueFrom?.secretKeyRef).toEqual({ name: secret.metadata.name, key: 'APM_PARTNER_SECRET' });
      expect(dataOf(secret).APM_PARTNER_SECRET).toBeTruthy();
    });

  }
});
