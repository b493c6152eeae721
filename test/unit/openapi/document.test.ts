import { buildOpenApiDocument, type OpenApiDocument } from '../../../src/openapi/document';
import { serviceOperations } from '../../../src/openapi/service-operations';
import { catalogue } from '../../../src/upstream/catalogue';
import { jsonSchemaForObject } from '../../../src/upstream/fields';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** Every `$ref` in a document, with where it was found. */
function refsOf(node: unknown, at = '#', out: Array<[string, string]> = []): Array<[string, string]> {
  if (Array.isArray(node)) node.forEach((v, i) => refsOf(v, `${at}/${i}`, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push([at, v]);
      else refsOf(v, `${at}/${k}`, out);
    }
  }
  return out;
}

function resolve(doc: Json, ref: string): Json {
  expect(ref.startsWith('#/')).toBe(true);
  return ref
    .slice(2)
    .split('/')
    .reduce((node: Json, part) => (node === undefined ? undefined : node[part.replace(/~1/g, '/').replace(/~0/g, '~')]), doc);
}

function operations(doc: Json): Array<[string, string, Json]> {
  const out: Array<[string, string, Json]> = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
    for (const method of Object.keys(item)) if (METHODS.includes(method)) out.push([path, method, item[method]]);
  }
  return out;
}

/** Every `pattern` keyword of the document. */
function patternsOf(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((v) => patternsOf(v, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'pattern' && typeof v === 'string') out.push(v);
      else patternsOf(v, out);
    }
  }
  return out;
}

function parsed(doc: OpenApiDocument): Json {
  return JSON.parse(JSON.stringify(doc));
}

describe.each(['front', 'back'] as const)('the %s OpenAPI document', (side) => {
  const doc = parsed(buildOpenApiDocument(side, { sessionCookieName: 'miles.sid' }));

  it('is OpenAPI 3.1 and survives a JSON round trip unchanged', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBeTruthy();
    expect(doc.info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(parsed(doc)).toEqual(doc);
  });

  it("lists every exposed endpoint of the catalogue on this side, and nothing else's", () => {
    const prefix = side === 'front' ? '/api/' : '/internal/';
    const expected = catalogue.filter((e) => e.side === side && e.exposed).map((e) => `${prefix}${e.path}`);
    const own = serviceOperations.filter((o) => o.side === side).map((o) => `${prefix}${o.path}`);
    expect(expected.length).toBeGreaterThan(0);
    expect(Object.keys(doc.paths).sort()).toEqual([...expected, ...own].sort());
    for (const path of expected) expect(doc.paths[path].post).toBeDefined();
    for (const hidden of catalogue.filter((e) => !e.exposed)) expect(doc.paths[`${prefix}${hidden.path}`]).toBeUndefined();
  });

  it("documents each request body as the catalogue's schema", () => {
    for (const e of catalogue.filter((x) => x.side === side && x.exposed && x.sessionEffect !== 'connect')) {
      const body = doc.paths[`${side === 'front' ? '/api/' : '/internal/'}${e.path}`].post.requestBody;
      const schema = resolve(doc, body.content['application/json'].schema.$ref);
      expect(schema).toEqual(JSON.parse(JSON.stringify(jsonSchemaForObject(e.fields))));
      expect(schema.additionalProperties).toBe(false);
    }
  });

  it('resolves every $ref and names every operation once', () => {
    for (const [at, ref] of refsOf(doc)) {
      if (resolve(doc, ref) === undefined) throw new Error(`${at}: ${ref} does not resolve`);
    }
    const ids = operations(doc).map(([, , op]) => op.operationId);
    expect(ids.every((id) => typeof id === 'string' && /^[A-Za-z][A-Za-z0-9]*$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("answers each catalogue endpoint's 200 with the envelope around its own data schema", () => {
    const prefix = side === 'front' ? '/api/' : '/internal/';
    for (const e of catalogue.filter((x) => x.side === side && x.exposed)) {
      const item = doc.paths[`${prefix}${e.path}`];
      for (const op of [item.post, item.get].filter(Boolean)) {
        const answer = resolve(doc, op.responses['200'].content['application/json'].schema.$ref);
        expect(answer.required).toEqual(['errorCode', 'errorMsg', 'data']);
        expect(answer.properties.errorCode).toEqual({ type: 'integer', const: 0 });
        expect(resolve(doc, answer.properties.data.$ref)).toEqual(JSON.parse(JSON.stringify(e.servedData)));
      }
    }
  });

  it('names its servers and license, and holds no component that nothing uses', () => {
    expect(doc.servers).toEqual([expect.objectContaining({ url: '/' })]);
    expect(doc.info.license).toEqual({ name: expect.any(String), identifier: expect.stringMatching(/\S/) });
    const reached = new Set(refsOf(doc.paths).map(([, ref]) => ref));
    // Follow references from component to component until nothing new turns up.
    for (let size = -1; size !== reached.size; ) {
      size = reached.size;
      for (const ref of [...reached]) for (const [, inner] of refsOf(resolve(doc, ref))) reached.add(inner);
    }
    for (const kind of ['schemas', 'parameters'] as const) {
      for (const name of Object.keys(doc.components[kind])) expect(reached).toContain(`#/components/${kind}/${name}`);
    }
    const schemes = new Set([...(doc.security ?? []), ...operations(doc).flatMap(([, , op]) => op.security ?? [])].flatMap((r: Json) => Object.keys(r)));
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual([...schemes].sort());
  });

  it('has patterns that compile as Unicode regular expressions', () => {
    const patterns = patternsOf(doc);
    expect(patterns.length).toBeGreaterThan(0);
    for (const p of patterns) expect(() => new RegExp(p, 'u')).not.toThrow();
  });

  it('answers the envelope on success and problem+json for errors', () => {
    for (const [path, method, op] of operations(doc)) {
      const okContent = op.responses['200'].content['application/json'];
      expect(okContent).toBeDefined();
      expect(op.responses.default.content['application/problem+json'].schema.$ref).toBe('#/components/schemas/Problem');
      for (const [status, response] of Object.entries(op.responses as Record<string, Json>)) {
        if (status === '200' || status === '304') continue;
        expect(`${method} ${path} ${status}: ${Object.keys(response.content ?? {}).join()}`).toContain('application/problem+json');
      }
      if (catalogue.some((e) => path.endsWith(`/${e.path}`))) {
        expect(resolve(doc, '#/components/schemas/Envelope').required).toEqual(['errorCode', 'errorMsg']);
        expect(Object.keys(op.responses['404'].content).sort()).toEqual(['application/json', 'application/problem+json']);
      }
    }
  });
});

describe('the back (internal) document', () => {
  const doc = parsed(buildOpenApiDocument('back'));

  it('puts every operation behind the bearer API key', () => {
    expect(doc.components.securitySchemes.internalApiKey).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer' }));
    expect(doc.security).toEqual([{ internalApiKey: [] }]);
    for (const [, , op] of operations(doc)) {
      expect(op.security).toBeUndefined();
      expect(op.responses['401'].content['application/problem+json']).toBeDefined();
    }
  });

  it('offers Idempotency-Key exactly on the idempotent endpoints', () => {
    for (const e of catalogue.filter((x) => x.side === 'back' && x.exposed)) {
      const names = doc.paths[`/internal/${e.path}`].post.parameters.map((p: Json) => resolve(doc, p.$ref).name);
      expect(names.includes('Idempotency-Key')).toBe(e.idempotent);
      expect(names).not.toContain('X-CSRF');
    }
  });

  it('documents revocation and purge with their answers', () => {
    const revoke = doc.paths['/internal/sessions/revoke'].post;
    expect(resolve(doc, revoke.requestBody.content['application/json'].schema.$ref).required).toEqual(['partnerClientId']);
    expect(resolve(doc, revoke.responses['200'].content['application/json'].schema.$ref).required).toEqual(['revoked']);
    const purge = doc.paths['/internal/cache/purge'].post;
    expect(resolve(doc, purge.responses['200'].content['application/json'].schema.$ref).required).toEqual(['purged']);
    expect(doc.paths['/internal/openapi.json'].get).toBeDefined();
  });

  it('limits the multistore to 1,000 ids', () => {
    const schema = resolve(doc, doc.paths['/internal/generosity/multistore'].post.requestBody.content['application/json'].schema.$ref);
    expect(schema.properties.partnerClientIds).toMatchObject({ type: 'array', minItems: 1, maxItems: 1000 });
    expect(schema.required).toEqual(expect.arrayContaining(['action', 'partnerClientIds']));
  });
});

describe('the front (public) document', () => {
  const doc = parsed(buildOpenApiDocument('front', { sessionCookieName: '__Host-miles.sid', identityMode: 'insecure-body' }));

  it('offers GET with query parameters for the reads, matching their fields', () => {
    for (const e of catalogue.filter((x) => x.side === 'front')) {
      const item = doc.paths[`/api/${e.path}`];
      if (!e.allowGet) {
        expect(item.get).toBeUndefined();
        continue;
      }
      const query = item.get.parameters.filter((p: Json) => p.in === 'query');
      expect(query.map((p: Json) => p.name).sort()).toEqual(Object.keys(e.fields).sort());
      for (const p of query) expect(p.required).toBe(e.fields[p.name]!.required);
      expect(item.get.requestBody).toBeUndefined();
    }
  });

  it('secures the session routes with the cookie or the bearer session token', () => {
    const schemes = doc.components.securitySchemes;
    expect(schemes.sessionCookie).toEqual(expect.objectContaining({ type: 'apiKey', in: 'cookie', name: '__Host-miles.sid' }));
    expect(schemes.sessionToken).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer' }));
    expect(schemes.identityToken).toBeUndefined();
    expect(doc.security).toBeUndefined();
    for (const e of catalogue.filter((x) => x.side === 'front')) {
      const post = doc.paths[`/api/${e.path}`].post;
      if (e.token === 'user') {
        expect(post.security).toEqual([{ sessionCookie: [] }, { sessionToken: [] }]);
        expect(post.responses['401']).toBeDefined();
      } else {
        expect(post.security).toEqual([]);
      }
    }
    expect(doc.paths['/api/session'].get.security).toEqual(expect.arrayContaining([{}]));
  });

  it('documents X-CSRF on every POST and Idempotency-Key on the idempotent ones', () => {
    for (const e of catalogue.filter((x) => x.side === 'front')) {
      const names = doc.paths[`/api/${e.path}`].post.parameters.map((p: Json) => resolve(doc, p.$ref).name);
      expect(names).toContain('X-CSRF');
      expect(names.includes('Idempotency-Key')).toBe(e.idempotent);
    }
    expect(resolve(doc, '#/components/parameters/XCsrf').schema).toEqual({ type: 'string', const: '1' });
  });

  it('documents connect as the public route validates it, with the mobile transport', () => {
    const connect = doc.paths['/api/user/clientcheckcredentials'].post;
    const schema = resolve(doc, connect.requestBody.content['application/json'].schema.$ref);
    // This document is built for insecure-body, the one mode whose identity is the body.
    expect(schema.required).toEqual(['partnerClientId']);
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['partnerClientId', 'dataConsentCode', 'lang']));
    expect(connect.parameters.map((p: Json) => resolve(doc, p.$ref).name)).toContain('X-Session-Transport');
    expect(resolve(doc, connect.responses['200'].content['application/json'].schema.$ref).properties.session.required).toEqual(['token', 'expiresIn']);
  });

  it('leaves partnerClientId optional in the modes whose identity is not the body', () => {
    for (const identityMode of ['jwt', 'header', undefined] as const) {
      const other = parsed(buildOpenApiDocument('front', identityMode ? { identityMode } : {}));
      const connect = other.paths['/api/user/clientcheckcredentials'].post;
      const schema = resolve(other, connect.requestBody.content['application/json'].schema.$ref);
      expect(`${identityMode}: ${JSON.stringify(schema.required)}`).toBe(`${identityMode}: undefined`);
      expect(schema.properties.partnerClientId).toBeDefined();
    }
  });

  it('never shows the userToken in the connect answer', () => {
    const answer = resolve(doc, doc.paths['/api/user/clientcheckcredentials'].post.responses['200'].content['application/json'].schema.$ref);
    const data = resolve(doc, answer.properties.data.$ref);
    expect(JSON.stringify(data)).not.toContain('userToken');
    expect(resolve(doc, data.properties.user.$ref).required).toEqual(['partnerClientId', 'email', 'firstName', 'lastName', 'points', 'optIn']);
  });

  it('adds the ID token scheme to connect in jwt mode', () => {
    const jwt = parsed(buildOpenApiDocument('front', { identityMode: 'jwt' }));
    expect(jwt.components.securitySchemes.identityToken).toEqual(expect.objectContaining({ scheme: 'bearer', bearerFormat: 'JWT' }));
    expect(jwt.paths['/api/user/clientcheckcredentials'].post.security).toEqual([{ identityToken: [] }]);
  });

  it('describes the sign-in routes and the native ID token connect in oidc mode only', () => {
    const oidc = parsed(buildOpenApiDocument('front', { identityMode: 'oidc' }));
    expect(Object.keys(oidc.paths).filter((p) => p.startsWith('/api/auth/')).sort()).toEqual(['/api/auth/backchannel-logout', '/api/auth/callback', '/api/auth/login', '/api/auth/logout']);
    expect(oidc.paths['/api/auth/login'].get.responses['302']).toBeDefined();
    expect(oidc.paths['/api/auth/backchannel-logout'].post.requestBody.content['application/x-www-form-urlencoded'].schema.required).toEqual(['logout_token']);
    expect(oidc.components.securitySchemes.identityToken).toEqual(expect.objectContaining({ scheme: 'bearer', bearerFormat: 'JWT' }));
    expect(Object.keys(doc.paths).some((p) => p.startsWith('/api/auth/'))).toBe(false);
  });

  it('offers 304 on the cached reads only', () => {
    for (const e of catalogue.filter((x) => x.side === 'front' && x.allowGet)) {
      expect(doc.paths[`/api/${e.path}`].get.responses['304'] !== undefined).toBe(e.cache !== 'none');
    }
  });
});
