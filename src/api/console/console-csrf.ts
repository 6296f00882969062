import type { Request } from 'express';

/** Methods that change nothing, which need no CSRF check. */
export function isSafeMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

function originHost(origin: string): string | null {
  try {
    return new URL(origin).host;
  } catch {
    return null;
  }
}

/**
 * True when the browser says the request comes from this origin: `Sec-Fetch-Site: same-origin`,
 * or, from browsers without fetch metadata, an `Origin` naming this host. A request with neither
 * is refused: every current browser sends one of them on a state-changing call.
 */
export function isSameOrigin(req: Request): boolean {
  const fetchSite = req.get('Sec-Fetch-Site');
  if (fetchSite !== undefined) return fetchSite === 'same-origin';
  const origin = req.get('Origin');
  if (origin !== undefined) return originHost(origin) === req.get('Host');
  return false;
}
