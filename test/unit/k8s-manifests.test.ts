/**
 * The Kubernetes manifests under k8s/ against the schema of each kind
 * (kubernetes-models) and against the settings table: the ports, probes,
 * setting names and secrets the manifests use are the ones the service reads.
 *
 * Overlays are rendered with `kubectl kustomize` when kubectl is on PATH, else
 * by `renderByHand` below, which knows only the few kustomize fields these
 * overlays use and refuses any other; when kubectl is there, a test checks
 * that both give the same objects.
 */
import { execFileSync, spawnSync } from 'node:child_process';
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
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { ILifecycleHandler } from 'kubernetes-models/v1/LifecycleHandler';
import { loadSettings } from '../../src/config/load';
import { settingsByName, settingsTable } from '../../src/config/settings-table';

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
  namespace?: string;
  resources?: string[];
  patches?: { path?: string }[];
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

// ---- the hand-made renderer (used when kubectl is not on PATH) --------------

const HANDLED = new Set(['apiVersion', 'kind', 'namespace', 'resources', 'patches', 'images']);

/**
 * A strategic merge reduced to what the patches here need: maps merge key by
 * key (null deletes), lists of objects that all have a `name` merge by name
 * (containers, ports, volumes), any other list is replaced.
 */
function merge(base: unknown, patch: unknown): unknown {
  if (isRecord(base) && isRecord(patch)) {
    const out: Record<string, unknown> = { ...base };
    for (const [key, value] of Object.entries(patch)) {
      if (value === null) delete out[key];
      else out[key] = merge(base[key], value);
    }
    return out;
  }
  const named = (list: unknown): list is Record<string, unknown>[] =>
    Array.isArray(list) && list.every((item) => isRecord(item) && typeof item.name === 'string');
  if (named(base) && named(patch)) {
    const out = base.map((item) => {
      const p = patch.find((q) => q.name === item.name);
      return p ? merge(item, p) : item;
    });
    return [...out, ...patch.filter((p) => !base.some((item) => item.name === p.name))];
  }
  return patch;
}

function renderByHand(dir: string): KObject[] {
  const k = kustomizationOf(dir);
  const unknownFields = Object.keys(k).filter((f) => !HANDLED.has(f));
  if (unknownFields.length) throw new Error(`${relative(ROOT, dir)}: renderByHand does not know ${unknownFields.join(', ')}`);
  let objects: KObject[] = (k.resources ?? []).flatMap((r) => {
    const path = resolve(dir, r);
    return statSync(path).isDirectory() ? renderByHand(path) : readObjects(path);
  });
  for (const patch of k.patches ?? []) {
    if (!patch.path || Object.keys(patch).length !== 1) throw new Error(`${relative(ROOT, dir)}: only file patches are handled by hand`);
    for (const p of readObjects(resolve(dir, patch.path))) {
      const i = objects.findIndex((o) => o.kind === p.kind && o.metadata.name === p.metadata.name);
      if (i < 0) throw new Error(`${patch.path}: no ${p.kind}/${p.metadata.name} to patch`);
      objects = objects.map((o, j) => (j === i ? (merge(o, p) as KObject) : o));
    }
  }
  for (const obj of objects) {
    for (const c of podSpecOf(obj)?.containers ?? []) {
      const image = c.image ?? '';
      const colon = image.lastIndexOf(':') > image.lastIndexOf('/') ? image.lastIndexOf(':') : image.length;
      const [name, tag] = [image.slice(0, colon), image.slice(colon + 1)];
      const rule = (k.images ?? []).find((im) => im.name === name);
      const newTag = rule?.newTag ?? tag;
      if (rule) c.image = `${rule.newName ?? name}${newTag ? `:${newTag}` : ''}`;
    }
    if (k.namespace) obj.metadata = { ...obj.metadata, namespace: k.namespace };
  }
  return objects;
}

// ---- rendering -------------------------------------------------------------

const kubectl = spawnSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).status === 0;

function renderWithKubectl(dir: string): KObject[] {
  const text = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 });
  return loadAll(text).filter(isRecord) as unknown as KObject[];
}

const render = (dir: string): KObject[] => (kubectl ? renderWithKubectl(dir) : renderByHand(dir));

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

describe('k8s/ files', () => {
  it('has a base and the production and development overlays', () => {
    expect(kustomizationDirs.map((d) => relative(K8S, d)).sort()).toEqual(['base', 'overlays/development', 'overlays/production']);
  });

  it.each(allFiles.map((f) => [relative(ROOT, f), f]))('%s parses, and each document has a kind and a name', (_name, file) => {
    const objects = readObjects(file);
    expect(objects.length).toBeGreaterThan(0);
    for (const o of objects) if (o.kind !== 'Kustomization') expect(typeof o.metadata?.name).toBe('string');
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

  (kubectl ? it : it.skip)('renders by hand what kubectl kustomize renders (keeps the fallback honest)', () => {
    const key = (o: KObject): string => `${o.kind}/${o.metadata.name}`;
    const sorted = (list: KObject[]): KObject[] => [...list].sort((a, b) => key(a).localeCompare(key(b)));
    for (const dir of kustomizationDirs) {
      expect({ dir: relative(K8S, dir), objects: sorted(renderByHand(dir)) }).toEqual({
        dir: relative(K8S, dir),
        objects: sorted(renderWithKubectl(dir)),
      });
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
    expect(appContainer(objects).env ?? []).toEqual([]);
  });

  it('routes only /api (Prefix) and / (Exact) to the public Service', () => {
    const ingress = new Ingress(find(objects, 'Ingress', APP) as never);
    const paths = (ingress.spec?.rules ?? []).flatMap((r) => r.http?.paths ?? []);
    expect(paths.map((p) => [p.path, p.pathType]).sort()).toEqual([['/', 'Exact'], ['/api', 'Prefix']]);
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
    expect(rulesFor(PORT).flatMap((r) => r.from ?? [])).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': expect.any(String) } } },
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
