import express, {
  type ErrorRequestHandler,
  type Request,
  type RequestHandler,
  type Response,
  type Router,
} from 'express';
import type { AuthThrottle } from '../api/auth-throttle';
import { AppError } from '../errors/app-error';
import type { Logger } from '../logging/logger';
import { project, type Projection } from './attribute-projection';
import {
  resourceTypeDocuments,
  schemaDocuments,
  serviceProviderConfig,
} from './discovery-documents';
import { listRequestFromQuery, listRequestFromSearch, type ListRequest } from './list-request';
import { readScimBody } from './scim-body';
import { scimAuthentication } from './scim-authentication';
import { scimContentType, scimUrns } from './scim-constants';
import { toScimError } from './scim-error';
import type { ScimLifecycleDeps } from './scim-lifecycle';
import {
  createScimUser,
  deleteScimUser,
  listScimUsers,
  loadScimUser,
  patchScimUser,
  replaceScimUser,
  type Tenant,
} from './scim-users';
import { parseUserInput } from './user-input';
import { etagMatches, etagOf, toScimUser } from './user-mapping';
import type { User } from '../models/user.model';

/** What the SCIM service needs. */
export interface ScimDeps extends ScimLifecycleDeps {
  throttle: AuthThrottle;
  logger: Logger;
}

function send(
  res: Response,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.status(status).setHeader('Content-Type', scimContentType);
  res.send(JSON.stringify(body));
}

/** The tenant URL as the client reached it, e.g. `https://host/scim/v2/orgs/org_1`. */
function tenantUrl(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? 'localhost'}${req.baseUrl}`;
}

function tenantOf(req: Request): Tenant {
  const orgId = String((req.params as { orgId?: string }).orgId);
  return typeof req.id === 'string' ? { orgId, requestId: req.id } : { orgId };
}

function idOf(req: Request): string {
  return String((req.params as { id?: string }).id);
}

function listResponse(resources: unknown[], totalResults: number, startIndex: number): unknown {
  return {
    schemas: [scimUrns.listResponse],
    totalResults,
    startIndex,
    itemsPerPage: resources.length,
    Resources: resources,
  };
}

/** Answers 405 with `Allow` for a method a path does not serve. */
function methodNotAllowed(allowed: string): RequestHandler {
  return (req, res) => {
    res.setHeader('Allow', allowed);
    throw new AppError('method_not_allowed', `${req.method} is not allowed here; use ${allowed}`);
  };
}

function sendUser(
  req: Request,
  res: Response,
  user: User,
  status: number,
  projection?: Projection,
): void {
  const resource = toScimUser(user, `${tenantUrl(req)}/Users`);
  const headers: Record<string, string> = { ETag: resource.meta.version };
  if (status === 201) headers.Location = resource.meta.location;
  send(res, status, projection ? project(resource, projection) : resource, headers);
}

const noProjection: Projection = { attributes: null, excludedAttributes: null };

/** A discovery collection (`/Schemas`, `/ResourceTypes`): the list, and one document by id. */
function mountDiscoveryCollection(
  tenant: Router,
  path: string,
  documentsAt: (baseUrl: string) => Record<string, unknown>[],
  noun: string,
): void {
  tenant
    .route(path)
    .get((req, res) => {
      const documents = documentsAt(tenantUrl(req));
      send(res, 200, listResponse(documents, documents.length, 1));
    })
    .all(methodNotAllowed('GET'));
  tenant
    .route(`${path}/:id`)
    .get((req, res) => {
      const found = documentsAt(tenantUrl(req)).find((doc) => doc.id === idOf(req));
      if (!found) throw new AppError('not_found', `No ${noun} ${idOf(req)}`);
      send(res, 200, found);
    })
    .all(methodNotAllowed('GET'));
}

/** The discovery endpoints (RFC 7644 §4): what the service supports, its types and schemas. */
function mountDiscoveryRoutes(tenant: Router): void {
  tenant
    .route('/ServiceProviderConfig')
    .get((req, res) => {
      send(res, 200, serviceProviderConfig(tenantUrl(req)));
    })
    .all(methodNotAllowed('GET'));
  mountDiscoveryCollection(tenant, '/ResourceTypes', resourceTypeDocuments, 'resource type');
  mountDiscoveryCollection(tenant, '/Schemas', schemaDocuments, 'schema');
}

/** `/Users` and the searches: list, create, read, replace, patch and delete users. */
function mountUserRoutes(tenant: Router, deps: ScimDeps): void {
  const list = async (req: Request, res: Response, request: ListRequest): Promise<void> => {
    const page = await listScimUsers(deps, tenantOf(req), request);
    const usersUrl = `${tenantUrl(req)}/Users`;
    const resources = page.users.map((user) =>
      project(toScimUser(user, usersUrl), request.projection),
    );
    send(res, 200, listResponse(resources, page.totalResults, page.startIndex));
  };
  const search: RequestHandler = async (req, res) => {
    await list(req, res, listRequestFromSearch(await readScimBody(req, res)));
  };

  tenant.route('/.search').post(search).all(methodNotAllowed('POST'));
  tenant.route('/Users/.search').post(search).all(methodNotAllowed('POST'));
  tenant
    .route('/Users')
    .get(async (req, res) => {
      await list(req, res, listRequestFromQuery(req.query));
    })
    .post(async (req, res) => {
      const input = parseUserInput(await readScimBody(req, res));
      const user = await createScimUser(deps, tenantOf(req), input);
      sendUser(req, res, user, 201);
    })
    .all(methodNotAllowed('GET, POST'));
  tenant
    .route('/Users/:id')
    .get(async (req, res) => {
      const { projection } = listRequestFromQuery(req.query);
      const user = await loadScimUser(deps, tenantOf(req), idOf(req));
      const ifNoneMatch = req.get('If-None-Match');
      if (ifNoneMatch !== undefined && etagMatches(ifNoneMatch, etagOf(user))) {
        res.status(304).setHeader('ETag', etagOf(user));
        res.end();
        return;
      }
      sendUser(req, res, user, 200, projection);
    })
    .put(async (req, res) => {
      const input = parseUserInput(await readScimBody(req, res));
      const user = await replaceScimUser(
        deps,
        tenantOf(req),
        idOf(req),
        input,
        req.get('If-Match'),
      );
      sendUser(req, res, user, 200, noProjection);
    })
    .patch(async (req, res) => {
      const body = await readScimBody(req, res);
      const user = await patchScimUser(deps, tenantOf(req), idOf(req), body, req.get('If-Match'));
      sendUser(req, res, user, 200, noProjection);
    })
    .delete(async (req, res) => {
      await deleteScimUser(deps, tenantOf(req), idOf(req), req.get('If-Match'));
      res.status(204).end();
    })
    .all(methodNotAllowed('GET, PUT, PATCH, DELETE'));
}

/**
 * The SCIM 2.0 service of docs/scim.md, mounted at `/scim`: one tenant per organization at
 * `/scim/v2/orgs/:orgId`, its own authentication (the `scim` scope) and its own error shape.
 */
export function scimRouter(deps: ScimDeps): Router {
  const router = express.Router();
  const tenant = express.Router({ mergeParams: true });
  mountDiscoveryRoutes(tenant);
  mountUserRoutes(tenant, deps);
  router.use('/v2/orgs/:orgId', scimAuthentication(deps.models, deps.throttle), tenant);
  router.use(() => {
    throw new AppError('not_found', 'No such SCIM endpoint');
  });
  router.use(scimErrorHandler);
  return router;
}

/** Writes every error under `/scim` in SCIM's shape (RFC 7644 §3.12). */
const scimErrorHandler: ErrorRequestHandler = (thrown: unknown, req, res, _next) => {
  const { error, body } = toScimError(thrown);
  if (error.httpStatus >= 500) {
    (req.log as typeof req.log | undefined)?.error(
      { err: thrown, code: error.code },
      'SCIM request failed',
    );
  }
  const headers: Record<string, string> = {};
  if (error.code === 'unauthorized') headers['WWW-Authenticate'] = 'Bearer realm="offboard SCIM"';
  if (error.code === 'service_unavailable') headers['Retry-After'] = '1';
  if (error.code === 'too_many_requests') {
    const seconds = (error.details as { retryAfterSeconds?: unknown } | undefined)
      ?.retryAfterSeconds;
    headers['Retry-After'] = String(
      typeof seconds === 'number' ? Math.max(1, Math.ceil(seconds)) : 1,
    );
  }
  send(res, error.httpStatus, body, headers);
};
