import type { RedisConnectionSettings } from '../../../src/config/settings';
import { addressOf, nodeOptions, RESP_VERSION, socketOptions } from '../../../src/redis/node-options';

const endpoint = { host: '10.0.0.5', port: 6380 };
const plain: RedisConnectionSettings = { topology: { mode: 'standalone', endpoint, database: 0 }, username: undefined, password: undefined, tls: undefined };
const secured: RedisConnectionSettings = { ...plain, username: 'app', password: 'pw', tls: { ca: '-----BEGIN CERTIFICATE-----' } };

describe('nodeOptions', () => {
  it('speaks RESP2 whatever node-redis defaults to', () => {
    expect(RESP_VERSION).toBe(2);
    expect(nodeOptions(plain, {}).RESP).toBe(2);
  });

  it('carries the tuning, the credentials and the address, and nothing it was not given', () => {
    const reconnectStrategy = (): number => 100;
    expect(nodeOptions(secured, { disableOfflineQueue: true, pingInterval: 1000, socket: { connectTimeout: 500, socketTimeout: 3000, reconnectStrategy } }, endpoint)).toEqual({
      RESP: 2,
      disableOfflineQueue: true,
      pingInterval: 1000,
      username: 'app',
      password: 'pw',
      socket: { connectTimeout: 500, socketTimeout: 3000, reconnectStrategy, host: '10.0.0.5', port: 6380, tls: true, ca: '-----BEGIN CERTIFICATE-----' },
    });
    expect(nodeOptions(plain, {})).toEqual({ RESP: 2, socket: {} });
  });
});

describe('socketOptions', () => {
  it('asks for TLS only when the settings do, with the CA when one is given', () => {
    expect(socketOptions(plain, undefined, endpoint)).toEqual({ host: '10.0.0.5', port: 6380 });
    expect(socketOptions({ ...plain, tls: { ca: undefined } }, undefined)).toEqual({ tls: true });
  });

  it('leaves out a connect timeout that is not set', () => {
    expect(socketOptions(plain, { connectTimeout: undefined })).toEqual({});
  });
});

describe('addressOf', () => {
  it('brackets IPv6 hosts', () => {
    expect(addressOf(endpoint)).toBe('10.0.0.5:6380');
    expect(addressOf({ host: '::1', port: 6379 })).toBe('[::1]:6379');
  });
});
