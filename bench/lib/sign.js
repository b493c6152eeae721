'use strict';
/* global Buffer */
/**
 * The load generator's own signer, for the baselines that reach the upstream
 * without the service (directly, or through the plain proxy): the upstream
 * checks every signature, so their requests must be signed as the service
 * signs its own. Synchronous node:crypto HMAC, written for speed: signing is
 * load-generator work, kept small so that it costs the baselines no more
 * than building the service's requests costs the service's runs.
 */
const { createHmac } = require('node:crypto');

const PROTECTED = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url');

/**
 * One signed upstream request: `{ method, path, headers, body }`, in the shape
 * autocannon's `requests` take. `path` is the upstream's, e.g. `/2.0/gift/list`.
 */
function signedRequest({ partnerId, secret, basePath, endpoint, sub, body, requestId, now = Date.now() }) {
  const bodyText = JSON.stringify(body);
  const headers = { 'Content-Type': 'application/json', Accept: 'application/json', 'X-Request-Id': requestId };
  const claims = JSON.stringify({
    iss: partnerId,
    sub,
    iat: Math.floor(now / 1000),
    data_header: JSON.stringify(headers),
    data_body: bodyText,
  });
  const input = `${PROTECTED}.${Buffer.from(claims).toString('base64url')}`;
  const signature = createHmac('sha256', secret).update(input).digest('base64url');
  return { method: 'POST', path: `${basePath}${endpoint}`, headers: { ...headers, Authorization: `Bearer ${input}.${signature}` }, body: bodyText };
}

module.exports = { signedRequest };
