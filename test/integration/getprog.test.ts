import { ApiClient } from '../helpers/http';
import { startTestService, type TestService } from '../helpers/service';

describe('partner/getprog through the service', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc.close();
  });

  it('answers GET with the sandbox program, signed upstream', async () => {
    const api = new ApiClient(svc.url);
    const res = await api.get('/api/partner/getprog?lang=fr');
    expect(res.status).toBe(200);
    expect(res.json.errorCode).toBe(0);
    expect(res.json.data.program.name).toBeTruthy();
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const last = svc.sandbox.calls[svc.sandbox.calls.length - 1]!;
    expect(last.path).toBe('partner/getprog');
    expect(last.sub).toBe('');
    expect(JSON.parse(last.body)).toEqual({ lang: 'fr' });
  });

  it('answers POST with X-CSRF, and sends the request id upstream', async () => {
    const api = new ApiClient(svc.url);
    const res = await api.post('/api/partner/getprog', { lang: 'en' }, { headers: { 'X-Request-Id': 'abc.DEF_123-x' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('abc.DEF_123-x');
    const last = svc.sandbox.calls[svc.sandbox.calls.length - 1]!;
    expect(last.headers['x-request-id']).toBe('abc.DEF_123-x');
  });
});
