import { AppError } from '../errors/app-error';
import type { AttributePath, Filter, FilterValue } from './filter-parser';
import { scimUrns } from './scim-constants';

/**
 * The `users` conditions a filter stands for, each an equality on a top-level field (the only
 * kind FerretDB pushes down, docs/local-services.md), or `null` when it can match no one
 * (two different values for one field, or an address type other than `work`).
 */
export type UserConditions = Record<string, string | boolean> | null;

type Field = 'email' | 'externalId' | 'active' | '_id';

function unsupported(message: string): never {
  throw new AppError('invalid_filter', message);
}

function stringValue(path: AttributePath, value: FilterValue): string {
  if (typeof value !== 'string') unsupported(`${path.text} is compared with a "quoted string"`);
  return value;
}

/** Whether an `emails[…]` value filter keeps the one address offboard serves (a work one). */
function keepsWorkAddress(filter: Filter): boolean {
  if (filter.kind === 'and') return filter.filters.every(keepsWorkAddress);
  if (filter.kind !== 'compare' || filter.op !== 'eq' || filter.path.subAttribute !== null) {
    return unsupported('Inside emails[…] only "type eq" and "primary eq" are supported');
  }
  const { attribute } = filter.path;
  if (attribute === 'type' && typeof filter.value === 'string') {
    return filter.value.toLowerCase() === 'work';
  }
  if (attribute === 'primary' && typeof filter.value === 'boolean') return filter.value;
  if (attribute === 'value' && typeof filter.value === 'string') return true;
  return unsupported('Inside emails[…] only "type eq" and "primary eq" are supported');
}

/** One `eq` comparison as a field and value; `null` when no user can match it. */
function comparison(path: AttributePath, value: FilterValue): [Field, string | boolean] | null {
  if (path.schema !== null && path.schema !== scimUrns.user.toLowerCase()) {
    unsupported(`Filtering on ${path.text} is not supported`);
  }
  const { attribute, subAttribute, valueFilter } = path;
  if (attribute === 'emails' && (subAttribute === null || subAttribute === 'value')) {
    if (valueFilter !== null && !keepsWorkAddress(valueFilter)) return null;
    // Stored lower-cased; SCIM compares addresses case-insensitively.
    return ['email', stringValue(path, value).trim().toLowerCase()];
  }
  if (valueFilter !== null || subAttribute !== null) {
    unsupported(`Filtering on ${path.text} is not supported`);
  }
  switch (attribute) {
    case 'username':
      return ['email', stringValue(path, value).trim().toLowerCase()];
    case 'externalid':
      // RFC 7643 §3.1: externalId is case-exact.
      return ['externalId', stringValue(path, value)];
    case 'id':
      return ['_id', stringValue(path, value)];
    case 'active': {
      const lower = typeof value === 'string' ? value.toLowerCase() : null;
      if (typeof value === 'boolean') return ['active', value];
      if (lower === 'true' || lower === 'false') return ['active', lower === 'true'];
      return unsupported('active is compared with true or false');
    }
    default:
      return unsupported(
        `Filtering on ${path.text} is not supported; use userName, externalId, emails.value, emails[type eq "work"].value, active or id`,
      );
  }
}

function collect(filter: Filter, into: Map<Field, string | boolean>): boolean {
  if (filter.kind === 'and') return filter.filters.every((part) => collect(part, into));
  if (filter.kind !== 'compare' || filter.op !== 'eq') {
    return unsupported('Only "eq" comparisons joined by "and" are supported');
  }
  const pair = comparison(filter.path, filter.value);
  if (pair === null) return false;
  const [field, value] = pair;
  const earlier = into.get(field);
  if (earlier !== undefined && earlier !== value) return false;
  into.set(field, value);
  return true;
}

/**
 * Translates a parsed filter into `users` conditions. Served: `eq` on `userName`,
 * `externalId`, `emails.value`, `emails[type eq "work"].value`, `active` and `id`, joined by
 * `and`; anything else is 400 `invalid_filter`. `active` becomes a status condition.
 */
export function filterToConditions(filter: Filter): UserConditions {
  const fields = new Map<Field, string | boolean>();
  // Evaluate every part, even after one made the filter unmatchable, so that an unsupported
  // part is always refused rather than depending on its position.
  const parts: Filter[] = [];
  const flatten = (f: Filter): void => {
    if (f.kind === 'and') f.filters.forEach(flatten);
    else parts.push(f);
  };
  flatten(filter);
  const matchable = parts.map((part) => collect(part, fields)).every(Boolean);
  if (!matchable) return null;
  const conditions: Record<string, string | boolean> = {};
  for (const [field, value] of fields) {
    if (field === 'active') conditions.status = value ? 'active' : 'inactive';
    else conditions[field] = value;
  }
  return conditions;
}
