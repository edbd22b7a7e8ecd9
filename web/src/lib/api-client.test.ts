import { describe, expect, it, vi } from 'vitest';
import { makeClient, session, unwrap } from './api-client';
import { ApiError, fieldErrors } from './problem';
import { Session } from './session';

describe('the generated API client', () => {
  it('refreshes by cookie before the first call, then sends the in-memory token', async () => {
    const refresh = vi.fn(async (url: string, init: RequestInit) => {
      expect(url).toBe('/v1/auth/refresh');
      expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
      expect(init.credentials).toBe('same-origin');
      return Response.json({ access_token: 'abc', refresh_token: 'hidden', token_type: 'Bearer', expires_in: 900 });
    });
    vi.stubGlobal('fetch', refresh);
    const fetchImpl = vi.fn(async (request: Request) => {
      expect(request.url).toBe('http://podium.test/v1/competitions?kind=prediction&limit=5');
      expect(request.headers.get('Authorization')).toBe('Bearer abc');
      return Response.json({ items: [], next_cursor: null });
    });
    const client = makeClient('http://podium.test', fetchImpl as unknown as typeof fetch);
    const page = unwrap(await client.GET('/v1/competitions', { params: { query: { kind: 'prediction', limit: 5 } } }));
    expect(page.items).toEqual([]);
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(fetchImpl).toHaveBeenCalledTimes(1);
    session.clear();
    vi.unstubAllGlobals();
  });

  it('turns a problem answer into ApiError with its code and field errors', async () => {
    const problem = { type: 'about:blank', title: 'Validation failed', status: 422, detail: 'bad', code: 'VALIDATION_ERROR', errors: [{ field: 'title', message: 'too long', type: 'x' }] };
    const fetchImpl = vi.fn(async () => Response.json(problem, { status: 422, headers: { 'Content-Type': 'application/problem+json' } }));
    const client = makeClient('http://podium.test', fetchImpl as unknown as typeof fetch);
    const answer = await client.POST('/v1/competitions', { body: { kind: 'prediction', title: 'x', starts_at: 'a', ends_at: 'b' } });
    let caught: unknown;
    try {
      unwrap(answer);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ApiError);
    expect((caught as ApiError).code).toBe('VALIDATION_ERROR');
    expect(fieldErrors((caught as ApiError).problem)).toEqual({ title: 'too long' });
  });
});

describe('Session', () => {
  it('schedules the silent refresh a minute before expiry and shares one refresh call', async () => {
    const delays: number[] = [];
    const refresh = vi.fn(async () => ({ access_token: 'new', expires_in: 900 }));
    const s = new Session(refresh, (_fn, ms) => {
      delays.push(ms);
      return 0 as unknown as ReturnType<typeof setTimeout>;
    });
    s.accept({ access_token: 'old', expires_in: 900 });
    expect(delays).toEqual([840_000]);
    const [a, b] = await Promise.all([s.refresh(), s.refresh()]);
    expect(a).toBe('new');
    expect(b).toBe('new');
    expect(refresh).toHaveBeenCalledTimes(1);
  });

  it('forgets the token when the cookie is refused', async () => {
    const s = new Session(async () => null, () => 0 as unknown as ReturnType<typeof setTimeout>);
    s.accept({ access_token: 'old', expires_in: 900 });
    expect(await s.refresh()).toBeNull();
    expect(s.accessToken).toBeNull();
  });
});
