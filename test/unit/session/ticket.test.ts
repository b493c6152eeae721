import type { Request } from 'express';
import { serialize } from 'cookie';
import { sign } from 'cookie-signature';
import { createTicketCodec } from '../../../src/session/ticket';

const NAME = 'miles.sid';

/** A request as far as the ticket reads it: its headers. */
function request(headers: Record<string, string>): Request {
  return { headers } as unknown as Request;
}

describe('session ticket', () => {
  const tickets = createTicketCodec(NAME, ['current-secret', 'previous-secret']);

  it('reads back the cookie it writes, URL-encoded as a Set-Cookie carries it', () => {
    const header = serialize(NAME, tickets.cookieValue('abc-DEF_123'));
    expect(tickets.read(request({ cookie: `other=1; ${header}` }))).toEqual({ id: 'abc-DEF_123', transport: 'cookie' });
  });

  it('reads the cookies express-session wrote (same format), signed by any secret still listed', () => {
    // express-session: cookie.serialize(name, 's:' + signature.sign(id, secret)).
    const old = serialize(NAME, `s:${sign('legacy-id', 'previous-secret')}`);
    expect(tickets.read(request({ cookie: old }))).toEqual({ id: 'legacy-id', transport: 'cookie' });
  });

  it('signs with the first secret', () => {
    expect(tickets.cookieValue('x')).toBe(`s:${sign('x', 'current-secret')}`);
    expect(tickets.bearerToken('x')).toBe(`mbs.${sign('x', 'current-secret')}`);
  });

  it('refuses a forged, unsigned or foreign-secret ticket', () => {
    for (const value of ['s:abc.forged', 'abc', `s:${sign('abc', 'someone-else')}`, '']) {
      expect(tickets.read(request({ cookie: serialize(NAME, value) }))).toBeUndefined();
    }
    expect(tickets.read(request({ authorization: `Bearer mbs.${sign('abc', 'someone-else')}` }))).toBeUndefined();
  });

  it('takes the first cookie of its name, as express-session does, and ignores others', () => {
    const first = serialize(NAME, tickets.cookieValue('first'));
    const second = serialize(NAME, tickets.cookieValue('second'));
    expect(tickets.read(request({ cookie: `${first}; ${second}` }))?.id).toBe('first');
    expect(tickets.read(request({ cookie: serialize(`${NAME}x`, tickets.cookieValue('near')) }))).toBeUndefined();
    expect(tickets.read(request({}))).toBeUndefined();
  });

  it('serves a bearer session token instead of the cookie, and never the cookie beside it', () => {
    const cookie = serialize(NAME, tickets.cookieValue('from-cookie'));
    expect(tickets.read(request({ cookie, authorization: `Bearer ${tickets.bearerToken('from-token')}` }))).toEqual({ id: 'from-token', transport: 'token' });
    // A forged token is no session, even with a valid cookie beside it.
    expect(tickets.read(request({ cookie, authorization: 'Bearer mbs.from-token.forged' }))).toBeUndefined();
  });

  it('leaves other Authorization schemes and ID tokens to the cookie', () => {
    const cookie = serialize(NAME, tickets.cookieValue('from-cookie'));
    for (const authorization of ['Basic dXNlcjpwYXNz', 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig', 'Negotiate abc']) {
      expect(tickets.read(request({ cookie, authorization }))).toEqual({ id: 'from-cookie', transport: 'cookie' });
    }
  });

  it('refuses to be built without a secret', () => {
    expect(() => createTicketCodec(NAME, [])).toThrow(/secret/);
  });
});
