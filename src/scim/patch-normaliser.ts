import { AppError } from '../errors/app-error';
import { parseAttributePath } from './filter-parser';
import { toStoredValue, type NameValue } from './attribute-values';
import { scimUrns } from './scim-constants';
import { resolveUserAttribute, type StoredAttribute } from './user-attributes';

/** One PATCH operation after normalisation: a lower-case op on one stored attribute. */
export type NormalisedOperation =
  | { op: 'add' | 'replace'; attribute: 'name'; value: NameValue }
  | { op: 'add' | 'replace'; attribute: StoredAttribute; value: string | boolean | null }
  | { op: 'remove'; attribute: StoredAttribute | 'name' };

const maxOperations = 100;
const userUrn = scimUrns.user.toLowerCase();
const enterpriseUrn = scimUrns.enterpriseUser.toLowerCase();

function syntax(message: string): never {
  throw new AppError('invalid_syntax', message);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A key of an object, found case-insensitively (providers differ: `Operations`, `operations`). */
function field(object: Record<string, unknown>, name: string): unknown {
  const key = Object.keys(object).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : object[key];
}

function withValue(
  op: 'add' | 'replace',
  attribute: StoredAttribute | 'name',
  raw: unknown,
): NormalisedOperation {
  const value = toStoredValue(attribute, raw);
  if (attribute === 'name') return { op, attribute, value: value as NameValue };
  return { op, attribute, value: value as string | boolean | null };
}

/** One path and value: what it targets, dropped when offboard derives or ignores it. */
function targeted(
  op: 'add' | 'replace' | 'remove',
  pathText: string,
  value: unknown,
): NormalisedOperation[] {
  const target = resolveUserAttribute(parseAttributePath(pathText));
  if (target.kind === 'readOnly') {
    throw new AppError('attribute_read_only', `${target.attribute} is read-only`);
  }
  if (target.kind !== 'stored') return [];
  if (op === 'remove') return [{ op, attribute: target.attribute }];
  if (value === undefined)
    throw new AppError('invalid_value', `The ${op} of ${pathText} has no value`);
  return [withValue(op, target.attribute, value)];
}

/**
 * The attributes of a path-less `add`/`replace` value (Okta sends `{"active": false}` this
 * way): keys may be plain, dotted (`name.givenName`) or URN-prefixed, or the User schema's URN
 * holding an object of attributes. The enterprise extension is accepted and dropped; `schemas`
 * and `meta` are ignored; `id` may only repeat the user's own.
 */
function expandValue(op: 'add' | 'replace', value: unknown, userId: string): NormalisedOperation[] {
  if (!isObject(value)) {
    throw new AppError('invalid_value', `A ${op} without a path needs an object of attributes`);
  }
  return Object.entries(value).flatMap(([key, item]) => {
    const lower = key.toLowerCase();
    if (lower === userUrn) return expandValue(op, item, userId);
    if (lower === enterpriseUrn || lower === 'schemas' || lower === 'meta') return [];
    if (lower === 'id') {
      if (item === userId) return [];
      throw new AppError('attribute_read_only', 'id is read-only');
    }
    return targeted(op, key, item);
  });
}

/**
 * Checks a PATCH body (RFC 7644 §3.5.2) and turns it into operations on stored attributes,
 * accepting what providers send: op names in any case (`Replace`), path-less values, dotted or
 * URN-prefixed keys, and "True"/"False" strings for booleans. Everything is checked before
 * anything is applied: one bad operation refuses the whole request.
 */
export function normalisePatch(body: unknown, userId: string): NormalisedOperation[] {
  if (!isObject(body)) syntax('The body must be a PatchOp object');
  const schemas = field(body, 'schemas');
  if (
    !Array.isArray(schemas) ||
    !schemas.some(
      (urn) => typeof urn === 'string' && urn.toLowerCase() === scimUrns.patchOp.toLowerCase(),
    )
  ) {
    syntax(`schemas must contain "${scimUrns.patchOp}"`);
  }
  const operations = field(body, 'Operations');
  if (!Array.isArray(operations) || operations.length === 0) {
    syntax('Operations must be a non-empty array');
  }
  if (operations.length > maxOperations) syntax(`At most ${maxOperations} operations per request`);
  return operations.flatMap((operation: unknown, index) => {
    if (!isObject(operation)) syntax(`Operations[${index}] must be an object`);
    const opName = field(operation, 'op');
    const op = typeof opName === 'string' ? opName.trim().toLowerCase() : '';
    if (op !== 'add' && op !== 'replace' && op !== 'remove') {
      syntax(`Operations[${index}].op must be add, replace or remove`);
    }
    const path = field(operation, 'path');
    const value = field(operation, 'value');
    if (path !== undefined && path !== null && typeof path !== 'string') {
      throw new AppError('invalid_path', `Operations[${index}].path must be a string`);
    }
    const pathText = typeof path === 'string' ? path.trim() : '';
    if (pathText !== '') return targeted(op, pathText, value);
    if (op === 'remove') throw new AppError('invalid_path', 'A remove needs a path (noTarget)');
    return expandValue(op, value, userId);
  });
}
