import { ApiClient } from '../helpers/http';
import { serviceOnOwnRedis } from '../helpers/service';

/**
 * During a Redis outage every request that needs a session answers 503; the log says so once per
 * change of state (redis-store.ts) and then reminds at a bounded rate, rather than one warning per
 * request besides its access line. A Redis of the test's own, since this one is killed.
 */
describe('log lines during a Redis outage', () => {
  const own = serviceOnOwnRedis({ RATE_LIMIT_ENABLED: 'false' });

  it('300 refused requests write a bounded number of warnings, not one each', async () => {
    const api = new ApiClient(own.svc.url);
    expect((await api.connect('outage-logs')).status).toBe(200);
    await own.redis.stop('SIGKILL');
    const before = own.svc.logs.length;
    const answers = [];
    for (let burst = 0; burst < 10; burst += 1) answers.push(...(await Promise.all(Array.from({ length: 30 }, () => api.get('/api/gift/list')))));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 503));
    const lines = own.svc.logs.slice(before).flatMap((chunk) => chunk.split('\n').filter(Boolean)).map((l) => JSON.parse(l) as { level: number; msg: string; suppressed?: number });
    // Each request has its access line (a 5xx one at warn level), and that is enough.
    const accessLines = lines.filter((l) => l.msg === 'request' && /gift\/list/.test(JSON.stringify(l)));
    expect(accessLines.length).toBeGreaterThanOrEqual(300);
    const warnings = lines.filter((l) => l.level >= 40 && l.msg !== 'request');
    expect(warnings.length).toBeLessThanOrEqual(5);
    // The reminder says how many it stood for.
    expect(warnings.some((w) => w.msg === 'Session store unavailable')).toBe(true);
  }, 60_000);
});
