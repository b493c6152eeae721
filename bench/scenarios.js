'use strict';
/**
 * The scenarios of `npm run bench`. Each gives the requests of the service
 * (also sent, unchanged, to the bare Express handler, which answers the exact
 * body the service answered) and the equivalent signed upstream requests
 * (sent to the plain proxy and to the upstream directly).
 *
 * ctx: { serviceUsers: [{ cookie }], upstreamUsers: [{ userToken }], partnerId,
 *        secret, basePath ('/2.0/'), runId }
 */
const { rotating } = require('./lib/load');
const { signedRequest } = require('./lib/sign');

// Frozen, and copied into each request: autocannon writes the Content-Length into the headers object it is given.
const JSON_POST = Object.freeze({ 'content-type': 'application/json', 'x-csrf': '1' });
/** Distinct users connected (and cycled through) by the connect scenario. */
const CONNECT_USERS = 1000;

function signer(ctx) {
  return (endpoint, sub, body, requestId) =>
    signedRequest({ partnerId: ctx.partnerId, secret: ctx.secret, basePath: ctx.basePath, endpoint, sub, body, requestId });
}

/** One counter per scenario and run: every purchase gets a param1 never used before. */
function orderIds(ctx) {
  let next = 0;
  return () => `${ctx.runId}-${next++}`;
}

const scenarios = [
  {
    id: 'getprog',
    title: 'cached GET /api/partner/getprog',
    bareRoute: { method: 'GET', path: '/api/partner/getprog' },
    serviceRequests: () => [{ method: 'GET', path: '/api/partner/getprog?lang=fr' }],
    // The upstream has no cache: proxy and direct pay for building the program on every call.
    upstreamRequests: (ctx) => [signer(ctx)('partner/getprog', '', { lang: 'fr' }, 'bench-getprog')],
  },
  {
    id: 'session-read',
    title: 'session-carried read GET /api/gift/list',
    bareRoute: { method: 'GET', path: '/api/gift/list' },
    serviceRequests: (ctx) =>
      rotating((i) => ({ method: 'GET', path: '/api/gift/list?lang=fr', headers: { cookie: ctx.serviceUsers[i % ctx.serviceUsers.length].cookie } })),
    upstreamRequests: (ctx) => {
      const sign = signer(ctx);
      const pool = ctx.upstreamUsers.map((u, i) => sign('gift/list', u.userToken, { lang: 'fr' }, `bench-list-${i}`));
      return rotating((i) => pool[i % pool.length]);
    },
  },
  {
    id: 'mutation',
    title: 'mutation POST /api/generosity/store (purchase, fresh param1)',
    bareRoute: { method: 'POST', path: '/api/generosity/store' },
    serviceRequests: (ctx) => {
      const orderId = ctx.orderId ?? (ctx.orderId = orderIds(ctx));
      return rotating((i) => ({
        method: 'POST',
        path: '/api/generosity/store',
        headers: { ...JSON_POST, cookie: ctx.serviceUsers[i % ctx.serviceUsers.length].cookie },
        body: JSON.stringify({ action: 'purchase', param1: orderId() }),
      }));
    },
    // Signed as they go: each body is new. A few microseconds of HMAC in the load generator.
    upstreamRequests: (ctx) => {
      const sign = signer(ctx);
      const orderId = ctx.orderId ?? (ctx.orderId = orderIds(ctx));
      return rotating((i) => sign('generosity/store', ctx.upstreamUsers[i % ctx.upstreamUsers.length].userToken, { action: 'purchase', param1: orderId() }, `bench-store-${i}`));
    },
  },
  {
    id: 'connect',
    title: 'connect POST /api/user/clientcheckcredentials',
    bareRoute: { method: 'POST', path: '/api/user/clientcheckcredentials' },
    serviceRequests: (ctx) =>
      rotating((i) => ({
        method: 'POST',
        path: '/api/user/clientcheckcredentials',
        headers: { ...JSON_POST },
        body: JSON.stringify({ partnerClientId: `${ctx.runId}-c${i % CONNECT_USERS}`, email: `c${i % CONNECT_USERS}@bench.example`, firstName: 'Bench' }),
      })),
    upstreamRequests: (ctx) => {
      const sign = signer(ctx);
      const pool = [];
      for (let i = 0; i < CONNECT_USERS; i++) {
        pool.push(sign('user/clientcheckcredentials', '', { partnerClientId: `${ctx.runId}-d${i}`, email: `d${i}@bench.example`, firstName: 'Bench' }, `bench-connect-${i}`));
      }
      return rotating((i) => pool[i % pool.length]);
    },
  },
];

module.exports = { scenarios };
