import type { z } from 'zod';
import type { Models } from '../models/create-models';
import type { KeysetPage, PageKey } from '../store/keyset-page';
import { decodePageCursor, pageBody } from './cursor';
import { requireOrganization } from './require-organization';
import { defineRoute, type RouteDefinition } from './route-definition';
import { commonErrorResponses, orgParamsSchema } from './schemas/common-schemas';

/** The query every paged listing takes: a page size and the cursor of the previous page. */
interface PageQuery {
  limit: number;
  cursor?: string | undefined;
}

/** A `GET` listing of one organization's documents, newest first, a keyset page at a time. */
export interface PagedListRoute<Q extends z.ZodType<PageQuery>, T, V> {
  models: Pick<Models, 'organizations'>;
  path: string;
  summary: string;
  query: Q;
  /** The documented 200 answer: its description and the `{items, nextCursor}` schema. */
  page: { description: string; schema: z.ZodType };
  /** The use case that reads the page after `after` (null: the first page). */
  list: (orgId: string, query: z.output<Q>, after: PageKey | null) => Promise<KeysetPage<T>>;
  /** An item as the API shows it. */
  view: (item: T) => V;
}

/**
 * The route of a paged listing: 404 for an unknown organization, the cursor checked (400 when
 * it is not one this API made), then the page with the next page's cursor. Each listing names
 * only its path, schemas and use case.
 */
export function pagedListRoute<Q extends z.ZodType<PageQuery>, T, V>(
  spec: PagedListRoute<Q, T, V>,
): RouteDefinition {
  return defineRoute({
    method: 'get',
    path: spec.path,
    summary: spec.summary,
    scope: 'read',
    params: orgParamsSchema,
    query: spec.query,
    responses: { 200: spec.page, ...commonErrorResponses },
    handler: async ({ params, query }) => {
      await requireOrganization(spec.models, params.orgId);
      const page = await spec.list(params.orgId, query, decodePageCursor(query.cursor));
      return { status: 200, body: pageBody(page, spec.view) };
    },
  });
}
