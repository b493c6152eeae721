import { createHmac } from 'node:crypto';
import { createSigner, type SignerOptions } from '../../../src/upstream/signer';

const SECRET = 'partner-secret-0123456789';
const NOW_MS = 1_700_000_000_999;
const IAT = 1_700_000_000;

function options(overrides: Partial<SignerOptions> = {}): SignerOptions {
  return {
    partnerId: 'partner-42',
    partnerSecret: SECRET,
    jsonEncoding: 'php',
    signedHeadersFormat: 'object',
    emptyBody: '{}',
    signatureHeader: 'Authorization',
    now: () => NOW_MS,
    ...overrides,
  };
}

interface Claims {
  iss: string;
  sub: string;
  iat: number;
  data_header: string;
  data_body: string;
}

const b64url = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');

/** The token as the seed's PHP recipe builds it, computed without jose. */
function expectedToken(secret: string, c: Claims): string {
  const header = b64url('{"alg":"HS256","typ":"JWT"}');
  const payload = b64url(
    `{"iss":${JSON.stringify(c.iss)},"sub":${JSON.stringify(c.sub)},"iat":${c.iat},` +
      `"data_header":${JSON.stringify(c.data_header)},"data_body":${JSON.stringify(c.data_body)}}`,
  );
  const signature = createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

function decode(token: string): { header: string; claims: Claims; keys: string[] } {
  const [h, p] = token.split('.');
  const payload = Buffer.from(p ?? '', 'base64url').toString('utf8');
  const claims = JSON.parse(payload) as Claims;
  return { header: Buffer.from(h ?? '', 'base64url').toString('utf8'), claims, keys: Object.keys(claims) };
}

function bearer(headers: Record<string, string>): string {
  const value = headers.Authorization ?? '';
  expect(value).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
  return value.slice('Bearer '.length);
}

const PHP_HEADERS = (id: string): string => `{"Content-Type":"application\\/json","Accept":"application\\/json","X-Request-Id":"${id}"}`;

describe('createSigner: the token', () => {
  it('is byte for byte the HS256 JWT of the PHP recipe, with every header it signed', async () => {
    const signer = createSigner(options());
    const { body, headers } = await signer.sign({ sub: '', body: {}, requestId: 'req-1' });

    const claims: Claims = { iss: 'partner-42', sub: '', iat: IAT, data_header: PHP_HEADERS('req-1'), data_body: '{}' };
    const token = expectedToken(SECRET, claims);
    expect(body).toBe('{}');
    expect(Object.entries(headers)).toEqual([
      ['Content-Type', 'application/json'],
      ['Accept', 'application/json'],
      ['X-Request-Id', 'req-1'],
      ['Authorization', `Bearer ${token}`],
    ]);
  });

  it('has the protected header {"alg":"HS256","typ":"JWT"} in that order, and claims iss, sub, iat, data_header, data_body in order', async () => {
    const { headers } = await createSigner(options()).sign({ sub: 'tok', body: { lang: 'fr' }, requestId: 'r' });
    const { header, claims, keys } = decode(bearer(headers));
    expect(header).toBe('{"alg":"HS256","typ":"JWT"}');
    expect(keys).toEqual(['iss', 'sub', 'iat', 'data_header', 'data_body']);
    expect(claims).toEqual({ iss: 'partner-42', sub: 'tok', iat: IAT, data_header: PHP_HEADERS('r'), data_body: '{"lang":"fr"}' });
  });

  it.each([
    ['empty', ''],
    ['a user token', 'c2VjcmV0LXVzZXItdG9rZW4/+=é'],
  ])('carries sub when %s', async (_name, sub) => {
    const { body, headers } = await createSigner(options()).sign({ sub, body: {}, requestId: 'r' });
    const token = bearer(headers);
    expect(decode(token).claims.sub).toBe(sub);
    expect(decode(token).keys).toContain('sub');
    expect(token).toBe(expectedToken(SECRET, { iss: 'partner-42', sub, iat: IAT, data_header: PHP_HEADERS('r'), data_body: body }));
  });

  it('takes iat from the clock at each call, in whole seconds rounded down', async () => {
    let now = 1_700_000_000_000;
    const signer = createSigner(options({ now: () => now }));
    const first = decode(bearer((await signer.sign({ sub: '', body: {}, requestId: 'r' })).headers)).claims.iat;
    now += 1_999;
    const second = decode(bearer((await signer.sign({ sub: '', body: {}, requestId: 'r' })).headers)).claims.iat;
    expect([first, second]).toEqual([1_700_000_000, 1_700_000_001]);
    expect(Number.isInteger(second)).toBe(true);
  });

  it('uses Date.now without an injected clock', async () => {
    const clock = jest.spyOn(Date, 'now').mockReturnValue(1_800_000_000_999);
    try {
      const { headers } = await createSigner(options({ now: undefined })).sign({ sub: '', body: {}, requestId: 'r' });
      expect(decode(bearer(headers)).claims.iat).toBe(1_800_000_000);
    } finally {
      clock.mockRestore();
    }
  });

  it('keys the HMAC with the UTF-8 bytes of the secret', async () => {
    const secret = 'sécret-😀';
    const { body, headers } = await createSigner(options({ partnerSecret: secret })).sign({ sub: '', body: {}, requestId: 'r' });
    expect(bearer(headers)).toBe(expectedToken(secret, { iss: 'partner-42', sub: '', iat: IAT, data_header: PHP_HEADERS('r'), data_body: body }));
  });
});

describe('createSigner: the body', () => {
  it.each([
    ['a URL', { url: 'https://shop.example/p/1?x=a/b' }, '{"url":"https:\\/\\/shop.example\\/p\\/1?x=a\\/b"}'],
    ['accents', { firstName: 'Zoé', lastName: 'Ñúñez', city: 'Zürich' }, '{"firstName":"Zo\\u00e9","lastName":"\\u00d1\\u00fa\\u00f1ez","city":"Z\\u00fcrich"}'],
    ['an emoji', { param1: 'gift 😀' }, '{"param1":"gift \\ud83d\\ude00"}'],
    ['integers and lists', { partnerClientIds: ['a', 'b'], page: 2, dataConsentCode: -1 }, '{"partnerClientIds":["a","b"],"page":2,"dataConsentCode":-1}'],
    ['quotes and backslashes', { param1: 'say "hi" \\o/' }, '{"param1":"say \\"hi\\" \\\\o\\/"}'],
  ])('is the data_body claim, byte for byte, for %s', async (_name, input, php) => {
    const { body, headers } = await createSigner(options()).sign({ sub: 'u', body: input, requestId: 'r' });
    expect(body).toBe(php);
    expect(decode(bearer(headers)).claims.data_body).toBe(body);
    expect(JSON.parse(body)).toEqual(input);
    expect(bearer(headers)).toBe(expectedToken(SECRET, { iss: 'partner-42', sub: 'u', iat: IAT, data_header: PHP_HEADERS('r'), data_body: php }));
  });

  it('is JSON.stringify with the standard encoding, headers too', async () => {
    const input = { url: 'https://a.b/c', name: 'Zoé 😀' };
    const { body, headers } = await createSigner(options({ jsonEncoding: 'standard' })).sign({ sub: '', body: input, requestId: 'r' });
    expect(body).toBe(JSON.stringify(input));
    const expected = expectedToken(SECRET, {
      iss: 'partner-42',
      sub: '',
      iat: IAT,
      data_header: '{"Content-Type":"application/json","Accept":"application/json","X-Request-Id":"r"}',
      data_body: JSON.stringify(input),
    });
    expect(bearer(headers)).toBe(expected);
  });

  it.each([
    ['{}', {}],
    ['[]', {}],
    ['[]', { lang: undefined }],
  ] as const)('sends an empty body as the emptyBody option %s', async (emptyBody, input) => {
    const { body, headers } = await createSigner(options({ emptyBody })).sign({ sub: '', body: input, requestId: 'r' });
    expect(body).toBe(emptyBody);
    expect(decode(bearer(headers)).claims.data_body).toBe(emptyBody);
  });

  it('leaves a non-empty body alone with emptyBody []', async () => {
    const { body } = await createSigner(options({ emptyBody: '[]' })).sign({ sub: '', body: { a: {}, b: [] }, requestId: 'r' });
    expect(body).toBe('{"a":{},"b":[]}');
  });
});

describe('createSigner: the headers', () => {
  it('signs the extras after the base headers and sends them with the same values', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const { headers } = await createSigner(options()).sign({ sub: '', body: {}, requestId: 'r', extraSignedHeaders: { traceparent } });
    const dataHeader = decode(bearer(headers)).claims.data_header;
    expect(dataHeader).toBe(`{"Content-Type":"application\\/json","Accept":"application\\/json","X-Request-Id":"r","traceparent":"${traceparent}"}`);
    const { Authorization: _signature, ...sent } = headers;
    expect(Object.entries(JSON.parse(dataHeader) as Record<string, string>)).toEqual(Object.entries(sent));
  });

  it('writes data_header as a PHP cURL header list with the list format', async () => {
    const { headers } = await createSigner(options({ signedHeadersFormat: 'list' })).sign({
      sub: '',
      body: {},
      requestId: 'r/1',
      extraSignedHeaders: { traceparent: 't' },
    });
    const listed = '["Content-Type: application\\/json","Accept: application\\/json","X-Request-Id: r\\/1","traceparent: t"]';
    expect(bearer(headers)).toBe(expectedToken(SECRET, { iss: 'partner-42', sub: '', iat: IAT, data_header: listed, data_body: '{}' }));
    const { Authorization: _signature, ...sent } = headers;
    expect(JSON.parse(listed)).toEqual(Object.entries(sent).map(([n, v]) => `${n}: ${v}`));
  });

  it('writes the list format with the standard encoding too', async () => {
    const { headers } = await createSigner(options({ signedHeadersFormat: 'list', jsonEncoding: 'standard' })).sign({ sub: '', body: {}, requestId: 'r' });
    expect(decode(bearer(headers)).claims.data_header).toBe('["Content-Type: application/json","Accept: application/json","X-Request-Id: r"]');
  });

  it('puts the bare JWT in a custom signature header, and no Authorization', async () => {
    const { body, headers } = await createSigner(options({ signatureHeader: 'X-Apm-Signature' })).sign({ sub: 's', body: {}, requestId: 'r' });
    expect(Object.keys(headers)).toEqual(['Content-Type', 'Accept', 'X-Request-Id', 'X-Apm-Signature']);
    expect(headers['X-Apm-Signature']).toBe(expectedToken(SECRET, { iss: 'partner-42', sub: 's', iat: IAT, data_header: PHP_HEADERS('r'), data_body: body }));
  });

  it.each(['accept', 'X-REQUEST-ID', 'authorization', 'Bad Name'])('refuses an extra signed header named %s', async (name) => {
    const signer = createSigner(options());
    await expect(signer.sign({ sub: '', body: {}, requestId: 'r', extraSignedHeaders: { [name]: 'x' } })).rejects.toThrow(/extra signed header/);
  });

  it('refuses a missing sub rather than dropping the claim', async () => {
    const input = { body: {}, requestId: 'r' } as unknown as Parameters<ReturnType<typeof createSigner>['sign']>[0];
    await expect(createSigner(options()).sign(input)).rejects.toThrow(/sub must be a string/);
  });
});

describe('createSigner: options, checked once at build', () => {
  it.each([
    ['an empty secret', { partnerSecret: '' }, /partnerSecret/],
    ['an empty partner id', { partnerId: '' }, /partnerId/],
    ['an unknown encoding', { jsonEncoding: 'utf8' as never }, /jsonEncoding/],
    ['an unknown header format', { signedHeadersFormat: 'map' as never }, /signedHeadersFormat/],
    ['an unknown empty body', { emptyBody: 'null' as never }, /emptyBody/],
    ['an empty signature header', { signatureHeader: '' }, /signatureHeader/],
    ['an invalid signature header name', { signatureHeader: 'X Signature' }, /signatureHeader/],
    ['a signature header that is signed', { signatureHeader: 'accept' }, /signatureHeader/],
    ['a clock that is not a function', { now: 5 as never }, /now/],
  ])('throws for %s', (_name, overrides, message) => {
    expect(() => createSigner(options(overrides))).toThrow(message);
  });

  it('ignores later changes to the options object', async () => {
    const opts = options();
    const signer = createSigner(opts);
    opts.partnerId = 'other';
    opts.partnerSecret = 'other';
    opts.jsonEncoding = 'standard';
    const { headers } = await signer.sign({ sub: '', body: {}, requestId: 'r' });
    expect(bearer(headers)).toBe(expectedToken(SECRET, { iss: 'partner-42', sub: '', iat: IAT, data_header: PHP_HEADERS('r'), data_body: '{}' }));
  });
});
