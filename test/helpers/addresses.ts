import { randomBytes } from 'node:crypto';

// Requests as if from many clients: a server with TRUST_PROXY=on takes the client's address from
// X-Forwarded-For, as behind one proxy.

export interface Answer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  retryAfter: string | null;
  ms: number;
}

/** One request from a client `address` (the server runs with TRUST_PROXY=on). */
export async function call(
  base: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; address?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { 'x-forwarded-for': options.address ?? randomAddress() };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const started = performance.now();
  const res = await fetch(base + path, {
    method,
    headers,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text ? JSON.parse(text) : undefined,
    retryAfter: res.headers.get('retry-after'),
    ms: performance.now() - started,
  };
}

export const randomAddress = () => `10.${[...randomBytes(3)].join('.')}`;
