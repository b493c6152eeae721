import { bearerCredentialOf, SESSION_TOKEN_PREFIX } from '../../../src/session/bearer-credential';
import { startMiddlewareApp, type MiddlewareApp } from '../../helpers/middleware-app';

/** The credential the rule reads from a real request's headers, on the connect of IDENTITY_MODE=jwt and elsewhere. */
describe('bearerCredentialOf', () => {
  let app: MiddlewareApp;
  beforeAll(async () => {
    app = await startMiddlewareApp([
      (req, res) => {
        res.json({ elsewhere: bearerCredentialOf(req, false) ?? null, idTokenConnect: bearerCredentialOf(req, true) ?? null });
      },
    ]);
  });
  afterAll(async () => {
    await app?.close();
  });

  const credentialsOf = async (authorization: string | undefined): Promise<unknown> =>
    (await app.request('GET', '/', { headers: authorization === undefined ? {} : { Authorization: authorization } })).json;

  it('reads a session token, on every route, without its prefix', async () => {
    const signed = { kind: 'session-token', signedId: 'abc.Def-_~+/==' };
    expect(await credentialsOf(`Bearer ${SESSION_TOKEN_PREFIX}abc.Def-_~+/==`)).toEqual({ elsewhere: signed, idTokenConnect: signed });
  });

  it('takes the scheme case-insensitively and spaces around the token', async () => {
    const signed = { kind: 'session-token', signedId: 'abc' };
    for (const header of [`bearer ${SESSION_TOKEN_PREFIX}abc`, `BEARER ${SESSION_TOKEN_PREFIX}abc`, `Bearer   ${SESSION_TOKEN_PREFIX}abc  `]) {
      expect(await credentialsOf(header)).toEqual({ elsewhere: signed, idTokenConnect: signed });
    }
  });

  it('reads any other bearer token as an ID token on the connect of IDENTITY_MODE=jwt only', async () => {
    const idToken = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';
    expect(await credentialsOf(`Bearer ${idToken}`)).toEqual({ elsewhere: null, idTokenConnect: { kind: 'id-token', token: idToken } });
  });

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['Basic credentials', 'Basic dXNlcjpwYXNz'],
    ['Negotiate', 'Negotiate YIIGhgYGKwYBBQUCoIIGejCCBnag'],
    ['a scheme without a token', 'Bearer'],
    ['a bearer with an empty token', 'Bearer '],
    ['a token with characters outside b64token', `Bearer ${SESSION_TOKEN_PREFIX}s%3Aabc`],
    ['two tokens', `Bearer ${SESSION_TOKEN_PREFIX}a ${SESSION_TOKEN_PREFIX}b`],
    ['padding in the middle', `Bearer ${SESSION_TOKEN_PREFIX}a=b`],
    ['a token without its scheme', `${SESSION_TOKEN_PREFIX}abc`],
  ])('finds no credential in %s', async (_label, header) => {
    expect(await credentialsOf(header)).toEqual({ elsewhere: null, idTokenConnect: null });
  });
});
