import path from 'node:path';
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import type { AppConfig, ConsoleConfig } from '../../config/config';
import { AppError } from '../../errors/app-error';
import type { Models } from '../../models/create-models';
import type { AuthThrottle } from '../auth-throttle';
import { authenticate, authorize } from '../authenticate';
import { isSafeMethod, isSameOrigin } from './console-csrf';
import { forwardToApi } from './console-proxy';
import {
  createConsoleSessions,
  csrfTokenMatches,
  type ConsoleOrganization,
  type ConsoleSession,
  type ConsoleSessions,
  type OpenSession,
} from './console-sessions';
import type { RedisClient } from '../../infra/redis-connection';

/** Where the console is mounted. */
export const consolePath = '/admin';

/** The session cookie's name. */
export const consoleCookie = 'offboard_console';

/** What the console needs. */
export interface ConsoleDeps {
  models: Models;
  redis: RedisClient;
  queuePrefix: string;
  console: ConsoleConfig;
  /** Whether the queue dashboard is on, so runs can link to their jobs. */
  dashboard: AppConfig['dashboard'];
  throttle: AuthThrottle;
}

const assetsDir = path.join(__dirname, 'assets');

/** The pages of the signed-in console; each is the same shell, which renders by its path. */
const pages = ['/users', '/activity', '/runs', '/runs/:id', '/sweeps', '/choose'];

const choiceSchema = z.strictObject({
  orgId: z.string().min(1).max(128).optional(),
  actorId: z.string().min(1).max(128).optional(),
});

/** The console paths of the public API: `/admin/api/<rest>` is `/v1/orgs/<org>/<rest>`. */
const apiRestPattern = /^\/[A-Za-z0-9._~:@/-]*$/;

function cookieValue(req: Request): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === consoleCookie) return value.join('=');
  }
  return undefined;
}

function setCookie(req: Request, res: Response, value: string, maxAgeSeconds: number): void {
  const attributes = [
    `${consoleCookie}=${value}`,
    `Path=${consolePath}`,
    `Max-Age=${maxAgeSeconds}`,
    'HttpOnly',
    'SameSite=Strict',
    ...(req.secure ? ['Secure'] : []),
  ];
  res.setHeader('Set-Cookie', attributes.join('; '));
}

function clearCookie(req: Request, res: Response): void {
  setCookie(req, res, '', 0);
}

/** What the browser learns of its session: never the key. */
function sessionView(session: ConsoleSession, dashboard: boolean): Record<string, unknown> {
  const org = session.organizations.find((candidate) => candidate.id === session.orgId);
  return {
    keyName: session.keyName,
    organizations: session.organizations,
    orgId: session.orgId,
    orgName: org?.name ?? null,
    actorId: session.actorId,
    actorBound: session.actorBound,
    csrfToken: session.csrfToken,
    expiresAt: new Date(session.expiresAt).toISOString(),
    queueDashboard: dashboard,
  };
}

async function organizationsOf(models: Models, orgIds: string[]): Promise<ConsoleOrganization[]> {
  const filter = orgIds.includes('*') ? {} : { _id: { $in: orgIds } };
  const found = await models.organizations
    .find(filter, { _id: 1, name: 1 })
    .sort({ name: 1, _id: 1 })
    .limit(500)
    .lean();
  return found.map((org) => ({ id: org._id, name: org.name }));
}

function sendError(res: Response, error: AppError): void {
  res.status(error.httpStatus).json({ error: { code: error.code, message: error.message } });
}

const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader('Cache-Control', 'no-store');
  next();
};

type SessionHandler = (req: Request, res: Response, open: OpenSession) => Promise<void>;

/** Wraps a handler that needs a signed-in session. */
type WithSession = (handler: SessionHandler) => (req: Request, res: Response) => Promise<void>;

async function openSession(sessions: ConsoleSessions, req: Request): Promise<OpenSession | null> {
  const id = cookieValue(req);
  return id === undefined ? null : sessions.open(id);
}

/** Resolves the session and checks CSRF on state changes; answers 401/403 itself. */
function sessionGuard(sessions: ConsoleSessions): WithSession {
  return (handler) => async (req, res) => {
    const open = await openSession(sessions, req);
    if (open === null) {
      clearCookie(req, res);
      sendError(res, new AppError('unauthorized', 'Your session has ended. Sign in again.'));
      return;
    }
    if (
      !isSafeMethod(req.method) &&
      (!isSameOrigin(req) || !csrfTokenMatches(open.session, req.get('X-CSRF-Token')))
    ) {
      sendError(
        res,
        new AppError(
          'forbidden',
          'Cross-site request refused: console changes must come from the console itself',
        ),
      );
      return;
    }
    await handler(req, res, open);
  };
}

/** The static assets, the sign-in page and the signed-in pages (to sign-in or choose first). */
function mountPages(router: Router, sessions: ConsoleSessions): void {
  router.use('/assets', express.static(assetsDir, { index: false, fallthrough: false, maxAge: 0 }));

  router.get('/', (_req, res) => {
    res.redirect(303, `${consolePath}/users`);
  });

  router.get('/sign-in', noStore, (_req, res) => {
    res.sendFile(path.join(assetsDir, 'sign-in.html'));
  });

  for (const page of pages) {
    router.get(page, noStore, async (req, res) => {
      const open = await openSession(sessions, req);
      if (open === null) {
        res.redirect(303, `${consolePath}/sign-in`);
        return;
      }
      const chosen = open.session.orgId !== null && open.session.actorId !== null;
      if (!chosen && page !== '/choose') {
        res.redirect(303, `${consolePath}/choose`);
        return;
      }
      res.sendFile(path.join(assetsDir, 'console.html'));
    });
  }
}

/**
 * Sign-in: the key arrives as `Authorization: Bearer`, like any API call, so failures count
 * towards the same per-address throttle. Same-origin only: no page elsewhere signs a visitor in.
 */
function signInHandler(deps: ConsoleDeps, sessions: ConsoleSessions): RequestHandler {
  return async (req, res) => {
    if (!isSameOrigin(req)) {
      sendError(res, new AppError('forbidden', 'Sign in from the console itself'));
      return;
    }
    const key = await deps.throttle.guard(req, () =>
      authenticate(deps.models, req.headers.authorization),
    );
    authorize(key, 'admin', undefined);
    const organizations = await organizationsOf(deps.models, key.orgIds);
    if (organizations.length === 0) {
      throw new AppError('forbidden', 'This API key is bound to no existing organization');
    }
    const only = organizations.length === 1 ? (organizations[0]?.id ?? null) : null;
    const presented = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const { id, session } = await sessions.create(presented, {
      keyId: key._id,
      keyName: key.name,
      organizations,
      orgId: only,
      actorId: key.actorId ?? null,
      actorBound: (key.actorId ?? null) !== null,
    });
    setCookie(req, res, id, deps.console.sessionMaxSeconds);
    res.status(201).json(sessionView(session, deps.dashboard !== null));
  };
}

/** The organization and actor a `PUT /session` body chooses, checked against the session. */
async function chosenChanges(
  models: Models,
  session: ConsoleSession,
  body: unknown,
): Promise<Partial<Pick<ConsoleSession, 'orgId' | 'actorId'>>> {
  const parsed = choiceSchema.safeParse(body);
  if (!parsed.success) {
    throw new AppError('validation_failed', 'The choice is not valid', {
      details: parsed.error.issues,
    });
  }
  const changes: Partial<Pick<ConsoleSession, 'orgId' | 'actorId'>> = {};
  const { orgId, actorId } = parsed.data;
  if (orgId !== undefined) {
    if (!session.organizations.some((org) => org.id === orgId)) {
      throw new AppError('forbidden', 'This API key is not allowed for this organization');
    }
    changes.orgId = orgId;
    if (!session.actorBound && orgId !== session.orgId) changes.actorId = null;
  }
  if (actorId !== undefined) {
    if (session.actorBound) {
      throw new AppError('actor_mismatch', 'This API key may act only as the user it is bound to');
    }
    const targetOrg = changes.orgId ?? session.orgId;
    const actor =
      targetOrg === null
        ? null
        : await models.users.exists({
            _id: actorId,
            orgId: targetOrg,
            kind: 'employee',
            status: 'active',
            role: { $in: ['admin', 'manager'] },
          });
    if (!actor) {
      throw new AppError(
        'validation_failed',
        'Choose an active admin or manager of the organization',
      );
    }
    changes.actorId = actorId;
  }
  return changes;
}

/** `/session`: sign in, read, choose organization and actor, sign out. */
function mountSessionRoutes(
  router: Router,
  deps: ConsoleDeps,
  sessions: ConsoleSessions,
  withSession: WithSession,
): void {
  const jsonBody = express.json({ limit: '10kb', strict: true });

  router.post('/session', noStore, signInHandler(deps, sessions));

  router.get(
    '/session',
    noStore,
    withSession((_req, res, open) => {
      res.json(sessionView(open.session, deps.dashboard !== null));
      return Promise.resolve();
    }),
  );

  router.put(
    '/session',
    noStore,
    jsonBody,
    withSession(async (req, res, open) => {
      const changes = await chosenChanges(deps.models, open.session, req.body);
      const session = await sessions.update(open, changes);
      res.json(sessionView(session, deps.dashboard !== null));
    }),
  );

  router.delete(
    '/session',
    noStore,
    withSession(async (req, res, open) => {
      await sessions.destroy(open.id);
      clearCookie(req, res);
      res.status(204).end();
    }),
  );
}

/** `/api/*`: forwards to the public API with the session's key; a refused key ends the session. */
function mountApiProxy(router: Router, sessions: ConsoleSessions, withSession: WithSession): void {
  router.all(
    '/api/*rest',
    withSession(async (req, res, open) => {
      const rest = req.path.slice('/api'.length);
      const { orgId } = open.session;
      if (!['GET', 'POST', 'PUT'].includes(req.method) || !apiRestPattern.test(rest)) {
        throw new AppError('not_found', 'No such route');
      }
      if (rest.includes('..') || orgId === null) {
        throw new AppError('not_found', 'No such route');
      }
      const query = req.originalUrl.includes('?')
        ? req.originalUrl.slice(req.originalUrl.indexOf('?'))
        : '';
      const status = await forwardToApi(req, res, {
        path: `/v1/orgs/${encodeURIComponent(orgId)}${rest}${query}`,
        apiKey: open.apiKey,
      });
      if (status === 401) {
        await sessions.destroy(open.id);
        clearCookie(req, res);
        sendError(
          res,
          new AppError('unauthorized', 'The API key is no longer valid. Sign in again.'),
        );
      }
    }),
  );
}

/**
 * The admin console (README, Admin console): static pages and one ES module under `/admin`,
 * sign-in with an `admin` API key kept server-side in a Redis session, and `/admin/api/*`,
 * which forwards to the public `/v1` API with the session's key. Mount after the queue
 * dashboard, which keeps `/admin/queues`.
 */
export function consoleRouter(deps: ConsoleDeps): Router {
  const sessions: ConsoleSessions = createConsoleSessions(deps.redis, {
    ...deps.console,
    keyPrefix: deps.queuePrefix,
  });
  const router = Router();
  const withSession = sessionGuard(sessions);
  mountPages(router, sessions);
  mountSessionRoutes(router, deps, sessions, withSession);
  mountApiProxy(router, sessions, withSession);
  return router;
}
