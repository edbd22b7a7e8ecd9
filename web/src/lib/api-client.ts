/**
 * The one API layer: a typed client generated from the gateway's OpenAPI
 * (`api-schema.d.ts`, `make web-api`), with the session's bearer token added to
 * every call. Features call `api.GET('/v1/...')` and `unwrap()` the answer;
 * nothing else in the app speaks HTTP.
 */
import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './api-schema';
import { ApiError, type ProblemBody } from './problem';
import { Session, type TokenAnswer } from './session';

async function refreshByCookie(): Promise<TokenAnswer | null> {
  // JSON content type: the gateway refuses a cookie refresh sent any other way (CSRF).
  const response = await fetch('/v1/auth/refresh', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: '{}',
    credentials: 'same-origin',
  });
  if (!response.ok) return null;
  return (await response.json()) as TokenAnswer;
}

export const session = new Session(refreshByCookie);

const bearer: Middleware = {
  async onRequest({ request }) {
    if (!new URL(request.url).pathname.startsWith('/v1/auth/')) await session.boot();
    const token = session.accessToken;
    if (token && !request.headers.has('Authorization')) {
      request.headers.set('Authorization', `Bearer ${token}`);
    }
    return request;
  },
};

export function makeClient(baseUrl = '', fetchImpl?: typeof fetch) {
  const client = createClient<paths>({
    baseUrl,
    credentials: 'same-origin',
    // Called unbound by openapi-fetch: bind it, or browsers throw "Illegal invocation".
    fetch: fetchImpl ?? ((request: Request) => globalThis.fetch(request)),
  });
  client.use(bearer);
  return client;
}

export const api = makeClient();

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** Return the data of a success, or throw `ApiError` with the problem document. */
export function unwrap<T>(answer: Answer<T>): T {
  if (answer.response.ok) return answer.data as T;
  const body = answer.error;
  const problem: ProblemBody =
    body && typeof body === 'object' && 'title' in body
      ? (body as ProblemBody)
      : { title: answer.response.statusText || 'Request failed', status: answer.response.status };
  throw new ApiError({ ...problem, status: answer.response.status });
}

/** Upload a file with progress (fetch has no upload progress): multipart `file`. */
export function upload<T>(
  url: string,
  file: File | Blob,
  { method = 'POST', onProgress, idempotencyKey }: {
    method?: 'POST' | 'PUT';
    onProgress?: (fraction: number) => void;
    idempotencyKey?: string;
  } = {},
): Promise<T> {
  return new Promise((resolve, reject) => {
    void session.boot().then(() => send(resolve, reject));
  });

  function send(resolve: (value: T) => void, reject: (reason: unknown) => void): void {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    const token = session.accessToken;
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    if (idempotencyKey) xhr.setRequestHeader('Idempotency-Key', idempotencyKey);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress?.(event.loaded / event.total);
    };
    xhr.onload = () => {
      let body: unknown = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as T);
      else {
        const problem = (body ?? { title: xhr.statusText, status: xhr.status }) as ProblemBody;
        reject(new ApiError({ ...problem, status: xhr.status }));
      }
    };
    xhr.onerror = () => reject(new ApiError({ title: 'Network error', status: 0, code: 'NETWORK_ERROR' }));
    const form = new FormData();
    form.append('file', file, file instanceof File ? file.name : 'upload.csv');
    xhr.send(form);
  }
}

/** Fetch a text resource with the session's token (CSV downloads). */
export async function getText(url: string): Promise<string> {
  await session.boot();
  const token = session.accessToken;
  const response = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!response.ok) {
    let problem: ProblemBody = { title: response.statusText, status: response.status };
    try {
      problem = (await response.json()) as ProblemBody;
    } catch {
      /* not JSON */
    }
    throw new ApiError({ ...problem, status: response.status });
  }
  return response.text();
}
