/**
 * The proxy's catalogue (src/upstream/catalogue.ts, fields.ts) and the simulator's own table
 * (src/sandbox/endpoints.ts, param-specs.ts) are written apart, from the same upstream
 * description. Held against each other here, a field one of them gets wrong (a name, a type,
 * a required flag, a range the description states) is a failing test rather than a 400 or an
 * errorCode 2 in production.
 *
 * What the description leaves open (string lengths and formats, upper bounds of pages and
 * dates) the simulator does not state; there the proxy's limits are guards of its own.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENDPOINT_RULES, type EndpointRule } from '../../../src/sandbox/endpoints';
import type { ParamSpec } from '../../../src/sandbox/param-specs';
import { catalogue, type EndpointSpec } from '../../../src/upstream/catalogue';
import type { FieldSpec } from '../../../src/upstream/fields';

type ProxyEndpoint = Pick<EndpointSpec, 'path' | 'token' | 'fields'>;

function compareSpec(where: string, proxy: FieldSpec, upstream: ParamSpec, out: string[]): void {
  if (proxy.type !== upstream.type) {
    out.push(`${where}: the proxy sends ${proxy.type}, the upstream takes ${upstream.type}`);
    return;
  }
  const stated = (name: string, proxyValue: unknown, upstreamValue: unknown): void => {
    if (upstreamValue !== undefined && JSON.stringify(proxyValue) !== JSON.stringify(upstreamValue)) {
      out.push(`${where}: ${name} is ${JSON.stringify(proxyValue)} in the proxy, ${JSON.stringify(upstreamValue)} upstream`);
    }
  };
  if (proxy.type === 'string' && upstream.type === 'string') {
    stated('minLength', proxy.minLength ?? 0, upstream.minLength);
    stated('maxLength', proxy.maxLength, upstream.maxLength);
  } else if (proxy.type === 'integer' && upstream.type === 'integer') {
    const sorted = (values: readonly number[] | undefined): number[] | undefined => (values ? [...values].sort((a, b) => a - b) : undefined);
    // An enumeration on either side is a statement about the values the upstream takes.
    if (proxy.enum || upstream.enum) stated('enum', sorted(proxy.enum), sorted(upstream.enum) ?? null);
    stated('minimum', proxy.minimum, upstream.minimum);
    stated('maximum', proxy.maximum, upstream.maximum);
  } else if (proxy.type === 'array' && upstream.type === 'array') {
    stated('minItems', proxy.minItems, upstream.minItems);
    stated('maxItems', proxy.maxItems, upstream.maxItems);
    compareSpec(`${where}[]`, proxy.items, upstream.items, out);
  }
}

/** Every difference between the two tables, one line each; empty when they agree. */
function differences(proxy: readonly ProxyEndpoint[], upstream: readonly EndpointRule[]): string[] {
  const out: string[] = [];
  const upstreamByPath = new Map(upstream.map((r) => [r.path, r]));
  const proxyPaths = new Set(proxy.map((e) => e.path));
  for (const rule of upstream) if (!proxyPaths.has(rule.path)) out.push(`${rule.path}: in the upstream description, not in the catalogue`);
  for (const entry of proxy) {
    const rule = upstreamByPath.get(entry.path);
    if (!rule) {
      out.push(`${entry.path}: in the catalogue, not in the upstream description`);
      continue;
    }
    if (entry.token !== rule.subject) out.push(`${entry.path}: the proxy signs sub with ${entry.token}, the upstream wants ${rule.subject}`);
    for (const name of Object.keys(rule.params)) {
      if (!Object.prototype.hasOwnProperty.call(entry.fields, name)) out.push(`${entry.path}.${name}: taken upstream, unknown to the proxy`);
    }
    for (const [name, use] of Object.entries(entry.fields)) {
      const param = Object.prototype.hasOwnProperty.call(rule.params, name) ? rule.params[name] : undefined;
      if (!param) {
        out.push(`${entry.path}.${name}: sent by the proxy, unknown upstream`);
        continue;
      }
      if (use.required !== param.required) out.push(`${entry.path}.${name}: required ${use.required} in the proxy, ${param.required} upstream`);
      compareSpec(`${entry.path}.${name}`, use.spec, param.spec, out);
    }
  }
  return out;
}

/** The catalogue with one entry changed by `change`. */
function withChange(path: string, change: (entry: ProxyEndpoint) => ProxyEndpoint): ProxyEndpoint[] {
  return catalogue.map((e) => (e.path === path ? change({ path: e.path, token: e.token, fields: { ...e.fields } }) : e));
}

describe("the simulator's parameter table against the proxy's catalogue", () => {
  it('agree on every endpoint, field, type, required flag and stated limit', () => {
    expect(differences(catalogue, ENDPOINT_RULES)).toEqual([]);
  });

  it('the simulator imports nothing from the proxy (its table stands alone)', () => {
    const dir = join(__dirname, '../../../src/sandbox');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const source = readFileSync(join(dir, file), 'utf8');
      expect([file, /from '\.\.\/(upstream|config|http|routes|session)\//.test(source)]).toEqual([file, false]);
    }
  });

  const ranking = (): EndpointSpec => catalogue.find((e) => e.path === 'user/ranking')!;
  it.each<[string, () => ProxyEndpoint[], RegExp]>([
    ['a range that differs', () => withChange('user/ranking', (e) => ({ ...e, fields: { ...e.fields, n: { required: true, spec: { type: 'integer', minimum: 1, maximum: 100 } } } })), /user\/ranking\.n: maximum is 100 in the proxy, 50 upstream/],
    ['a misspelt field', () => withChange('gift/checkavailability', (e) => ({ ...e, fields: { giftID: e.fields.giftId! } })), /giftID: sent by the proxy, unknown upstream/],
    ['a field the proxy forgot', () => withChange('gift/checkavailability', (e) => ({ ...e, fields: {} })), /gift\/checkavailability\.giftId: taken upstream, unknown to the proxy/],
    ['a required flag that differs', () => withChange('user/info', (e) => ({ ...e, fields: { partnerClientId: { ...e.fields.partnerClientId!, required: false } } })), /user\/info\.partnerClientId: required false in the proxy, true upstream/],
    ['a type that differs', () => withChange('user/incrementalinfos', (e) => ({ ...e, fields: { ...e.fields, since: { required: true, spec: { type: 'string', maxLength: 20 } } } })), /since: the proxy sends string, the upstream takes integer/],
    ['another token in sub', () => withChange('partner/getprog', (e) => ({ ...e, token: 'user' })), /partner\/getprog: the proxy signs sub with user/],
    ['a list bound that differs', () => withChange('user/multidelete', (e) => ({ ...e, fields: { partnerClientIds: { required: true, spec: { type: 'array', items: ranking().fields.partnerClientId!.spec, minItems: 1, maxItems: 5000 } } } })), /maxItems is 5000 in the proxy, 1000 upstream/],
    ['an endpoint missing', () => catalogue.filter((e) => e.path !== 'ad/news'), /ad\/news: in the upstream description, not in the catalogue/],
  ])('catch %s', (_label, changed, expected) => {
    const found = differences(changed(), ENDPOINT_RULES);
    expect(found.length).toBeGreaterThan(0);
    expect(found.join('\n')).toMatch(expected);
  });
});
