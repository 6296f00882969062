import express, { type Express, type Request, type Response } from 'express';
import type { z } from 'zod';
import { AppError } from '../errors/app-error';
import type { ApiKey } from '../models/api-key.model';
import type { Models } from '../models/create-models';
import type { AuthThrottle } from './auth-throttle';
import { authenticate, authorize } from './authenticate';
import { authorizeActor } from './authorize-actor';
import { withIdempotency } from './idempotency';
import type { HandlerResult, RouteDefinition } from './route-definition';

const jsonParser = express.json({ limit: '100kb', strict: true });

function parseBody(req: Request, res: Response): Promise<void> {
  return new Promise((resolve, reject) => {
    // body-parser's errors are Errors carrying `type` and `status` (see error-handler).
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- express's own Request
    jsonParser(req, res, (error?: unknown) => {
      if (error === undefined) resolve();
      else reject(error instanceof Error ? error : new Error('The request body could not be read'));
    });
  });
}

/**
 * Validates every part of the request at once, so a 400 lists every problem; each issue's path
 * starts with where it was found (`body`, `query` or `params`).
 */
function validate(
  route: RouteDefinition,
  req: Request,
): { params: unknown; query: unknown; body: unknown } {
  const issues: z.core.$ZodIssue[] = [];
  const parse = (
    where: 'params' | 'query' | 'body',
    schema: z.ZodType | undefined,
    value: unknown,
  ): unknown => {
    if (!schema) return undefined;
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    issues.push(
      ...parsed.error.issues.map((issue) => ({ ...issue, path: [where, ...issue.path] })),
    );
    return undefined;
  };
  const input = {
    params: parse('params', route.params, req.params),
    query: parse('query', route.query, req.query),
    body: parse('body', route.body, req.body),
  };
  if (issues.length > 0)
    throw new AppError('validation_failed', 'The request is not valid', { details: issues });
  return input;
}

function send(res: Response, result: HandlerResult): void {
  for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, value);
  res.status(result.status).json(result.body);
}

/**
 * Mounts route definitions in the order a careful API answers: 429 (too many failed keys from
 * this address), 401 (who are you), 403 (scope and organization, before anything is looked up),
 * then the body is read (415, 413, 400), then a bound key's actor (403 `actor_mismatch`), then
 * the handler, behind the Idempotency-Key guard where the route accepts one.
 */
export function mountRoutes(
  app: Express,
  routes: RouteDefinition[],
  models: Models,
  throttle: AuthThrottle,
): void {
  for (const route of routes) {
    app[route.method](route.path, async (req: Request, res: Response) => {
      let apiKey: ApiKey | null = null;
      if (route.scope !== null) {
        apiKey = await throttle.guard(req, () => authenticate(models, req.headers.authorization));
        authorize(
          apiKey,
          route.scope,
          typeof req.params.orgId === 'string' ? req.params.orgId : undefined,
        );
      }
      if (route.body) {
        // The JSON parser skips other types, which would then read as a 400 about missing
        // fields; say what is wrong instead. An empty body stays a 400 about the fields.
        if (req.is('application/json') === false && req.get('Content-Length') !== '0') {
          throw new AppError('unsupported_media_type', 'Send the body as application/json');
        }
        await parseBody(req, res);
      }
      const input = validate(route, req);
      authorizeActor(apiKey, input.body);
      const execute = (): Promise<HandlerResult> => route.handler({ ...input, apiKey, req, res });
      const idempotencyKey = req.get('Idempotency-Key');
      const result =
        route.idempotent && idempotencyKey !== undefined && apiKey !== null
          ? await withIdempotency(
              models,
              {
                idempotencyKey,
                apiKeyId: apiKey._id,
                route: `${route.method} ${route.path}`,
                request: { params: input.params, query: input.query, body: input.body },
              },
              execute,
            )
          : await execute();
      send(res, result);
    });
  }
}
