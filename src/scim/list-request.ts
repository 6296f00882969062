import { AppError } from '../errors/app-error';
import { parseProjection, type Projection } from './attribute-projection';
import { maxResults, scimUrns } from './scim-constants';

/** A query of users: from `GET /Users`'s parameters or a `POST /.search` body. */
export interface ListRequest {
  filter: string | undefined;
  startIndex: number;
  count: number;
  projection: Projection;
}

const defaultCount = 100;

function integer(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && /^\s*-?\d{1,15}\s*$/.test(value)) return Number(value);
  throw new AppError('invalid_value', `${name} must be an integer`);
}

function text(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string')
    throw new AppError('invalid_value', `${name} must be given once, as a string`);
  return value;
}

function names(name: string, value: unknown): string | string[] | undefined {
  if (value === undefined || typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value;
  throw new AppError('invalid_value', `${name} must be a list of attribute names`);
}

/**
 * Reads the query parameters of RFC 7644 §3.4.2: `startIndex` below 1 counts as 1, `count`
 * below 0 as 0 and above {@link maxResults} as that; `sortBy` is not supported and ignored.
 */
function toListRequest(source: Record<string, unknown>): ListRequest {
  const startIndex = integer('startIndex', source.startIndex) ?? 1;
  const count = integer('count', source.count) ?? defaultCount;
  return {
    filter: text('filter', source.filter),
    startIndex: Math.max(1, startIndex),
    count: Math.min(maxResults, Math.max(0, count)),
    projection: parseProjection(
      names('attributes', source.attributes),
      names('excludedAttributes', source.excludedAttributes),
    ),
  };
}

/** `GET /Users?filter=…&startIndex=…&count=…&attributes=…`. */
export function listRequestFromQuery(query: Record<string, unknown>): ListRequest {
  return toListRequest(query);
}

/** A `POST /.search` body (RFC 7644 §3.4.3). */
export function listRequestFromSearch(body: unknown): ListRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new AppError('invalid_syntax', 'The body must be a SearchRequest object');
  }
  const source = body as Record<string, unknown>;
  const schemas = source.schemas;
  if (
    !Array.isArray(schemas) ||
    !schemas.some(
      (urn) =>
        typeof urn === 'string' && urn.toLowerCase() === scimUrns.searchRequest.toLowerCase(),
    )
  ) {
    throw new AppError('invalid_syntax', `schemas must contain "${scimUrns.searchRequest}"`);
  }
  return toListRequest(source);
}
