import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { Request, Response } from 'express';
import { AppError } from '../../errors/app-error';

/** What the console forwards: a `/v1` path and the session's key. */
export interface ForwardedCall {
  /** The `/v1` path and query, e.g. `/v1/orgs/org_1/users?activity=inactive`. */
  path: string;
  apiKey: string;
}

/** The request headers a console call may carry through to the API. */
const forwardedHeaders = ['content-type', 'content-length', 'idempotency-key', 'x-request-id'];

/**
 * Forwards one console call to the public `/v1` API of this very process, over HTTP to the
 * address and port the browser's request arrived on: the console goes through the same
 * authentication, validation, throttling and idempotency as any client, and the key is added
 * here, so the browser never holds it. Only the status, the content type and the body come back.
 *
 * @returns the API's status code. The response is written, except for a 401 (the key was
 * revoked since sign-in), which the caller answers after ending the session.
 */
export function forwardToApi(req: Request, res: Response, call: ForwardedCall): Promise<number> {
  const headers: Record<string, string> = { authorization: `Bearer ${call.apiKey}` };
  for (const name of forwardedHeaders) {
    const value = req.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  // The request logger has already chosen an id; the API's log line carries the same one.
  const requestId = res.getHeader('X-Request-Id');
  if (typeof requestId === 'string') headers['x-request-id'] = requestId;
  return new Promise((resolve, reject) => {
    const upstream = httpRequest(
      {
        host: req.socket.localAddress,
        port: req.socket.localPort,
        method: req.method,
        path: call.path,
        headers,
      },
      (answer: IncomingMessage) => {
        const status = answer.statusCode ?? 502;
        if (status === 401) {
          answer.resume();
          resolve(status);
          return;
        }
        res.status(status);
        res.setHeader('Cache-Control', 'no-store');
        const type = answer.headers['content-type'];
        if (type !== undefined) res.setHeader('Content-Type', type);
        const retryAfter = answer.headers['retry-after'];
        if (retryAfter !== undefined) res.setHeader('Retry-After', retryAfter);
        answer.pipe(res);
        answer.on('end', () => {
          resolve(status);
        });
        answer.on('error', reject);
      },
    );
    upstream.on('error', (error) => {
      reject(new AppError('service_unavailable', 'The API did not answer', { cause: error }));
    });
    if (req.method === 'GET' || req.method === 'HEAD') upstream.end();
    else req.pipe(upstream);
  });
}
