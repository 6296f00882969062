import { AppError } from '../errors/app-error';
import { toStoredValue, type NameValue } from './attribute-values';
import { parseAttributePath } from './filter-parser';
import { scimUrns } from './scim-constants';
import { resolveUserAttribute } from './user-attributes';

/** A User resource as sent with `POST` or `PUT`, reduced to what offboard keeps. */
export interface UserInput {
  userName: string;
  externalId: string | null;
  givenName: string | null;
  familyName: string | null;
  /** Absent: `POST` creates an active user, `PUT` leaves the status alone. */
  active: boolean | undefined;
}

const userUrn = scimUrns.user.toLowerCase();
const enterpriseUrn = scimUrns.enterpriseUser.toLowerCase();

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function collect(
  body: Record<string, unknown>,
  into: Partial<
    Record<'userName' | 'externalId' | 'active' | 'name.givenName' | 'name.familyName', unknown>
  >,
): void {
  for (const [key, value] of Object.entries(body)) {
    const lower = key.toLowerCase();
    if (lower === userUrn && isObject(value)) {
      collect(value, into);
      continue;
    }
    // Read-only attributes in a body are ignored (RFC 7644 §3.3, §3.5.1).
    if (lower === enterpriseUrn || lower === 'schemas' || lower === 'meta' || lower === 'id') {
      continue;
    }
    let target;
    try {
      target = resolveUserAttribute(parseAttributePath(key));
    } catch (error) {
      if (error instanceof AppError) throw new AppError('invalid_value', error.message);
      throw error;
    }
    if (target.kind !== 'stored') continue;
    if (target.attribute === 'name') {
      const name = toStoredValue('name', value) as NameValue;
      if (name.givenName !== undefined) into['name.givenName'] = name.givenName;
      if (name.familyName !== undefined) into['name.familyName'] = name.familyName;
    } else {
      into[target.attribute] = toStoredValue(target.attribute, value);
    }
  }
}

/**
 * Checks a `POST`/`PUT` body: `schemas` must name the User schema, `userName` is required, the
 * attributes offboard keeps must have the right types (Entra's "True"/"False" accepted), the
 * other User attributes are accepted and dropped, unknown ones are 400 `invalid_value`.
 */
export function parseUserInput(body: unknown): UserInput {
  if (!isObject(body)) throw new AppError('invalid_syntax', 'The body must be a User object');
  const schemasKey = Object.keys(body).find((key) => key.toLowerCase() === 'schemas');
  const schemas = schemasKey === undefined ? undefined : body[schemasKey];
  if (
    !Array.isArray(schemas) ||
    !schemas.some((urn) => typeof urn === 'string' && urn.toLowerCase() === userUrn)
  ) {
    throw new AppError('invalid_syntax', `schemas must contain "${scimUrns.user}"`);
  }
  const values: Parameters<typeof collect>[1] = {};
  collect(body, values);
  if (typeof values.userName !== 'string') {
    throw new AppError('invalid_value', 'userName is required');
  }
  const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);
  return {
    userName: values.userName,
    externalId: text(values.externalId),
    givenName: text(values['name.givenName']),
    familyName: text(values['name.familyName']),
    active: typeof values.active === 'boolean' ? values.active : undefined,
  };
}
