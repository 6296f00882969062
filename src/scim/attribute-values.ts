import { AppError } from '../errors/app-error';
import type { StoredAttribute } from './user-attributes';

/** The writable part of a SCIM user, as offboard keeps it. */
export interface UserAttributes {
  userName: string;
  externalId: string | null;
  givenName: string | null;
  familyName: string | null;
  active: boolean;
}

/** A `name` value: the sub-attributes given (null clears one). */
export type NameValue = Partial<Record<'givenName' | 'familyName', string | null>>;

const maxLengths = { userName: 320, externalId: 256, name: 256 } as const;
const ignoredNameParts = new Set(['formatted', 'middlename', 'honorificprefix', 'honorificsuffix']);

function invalid(message: string): never {
  throw new AppError('invalid_value', message);
}

/**
 * `active` as Entra ID sends it too: a boolean, or the strings "True"/"False" in any case.
 * Anything else is 400 `invalid_value`.
 */
export function toBoolean(attribute: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const lower = value.trim().toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
  }
  return invalid(`${attribute} must be true or false`);
}

function toText(attribute: string, value: unknown, maxLength: number): string {
  if (typeof value !== 'string') invalid(`${attribute} must be a string`);
  const text = value.trim();
  if (text === '') invalid(`${attribute} must not be empty`);
  if (text.length > maxLength) invalid(`${attribute} is longer than ${maxLength} characters`);
  return text;
}

function toOptionalText(attribute: string, value: unknown, maxLength: number): string | null {
  if (value === null) return null;
  if (typeof value === 'string' && value.trim() === '') return null;
  return toText(attribute, value, maxLength);
}

/** `name` as an object of sub-attributes; the ones offboard does not keep are dropped. */
export function toNameValue(value: unknown): NameValue {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return invalid('name must be an object');
  }
  const name: NameValue = {};
  for (const [key, part] of Object.entries(value)) {
    const lower = key.toLowerCase();
    if (lower === 'givenname')
      name.givenName = toOptionalText('name.givenName', part, maxLengths.name);
    else if (lower === 'familyname')
      name.familyName = toOptionalText('name.familyName', part, maxLengths.name);
    else if (!ignoredNameParts.has(lower)) invalid(`name.${key} is not an attribute of a User`);
  }
  return name;
}

/** Checks and normalises the value written to one stored attribute. */
export function toStoredValue(
  attribute: StoredAttribute | 'name',
  value: unknown,
): string | boolean | null | NameValue {
  switch (attribute) {
    case 'userName':
      // Stored as the email: trimmed and lower-cased (docs/data.md).
      return toText('userName', value, maxLengths.userName).toLowerCase();
    case 'externalId':
      return toOptionalText('externalId', value, maxLengths.externalId);
    case 'active':
      return toBoolean('active', value);
    case 'name':
      return toNameValue(value);
    case 'name.givenName':
    case 'name.familyName':
      return toOptionalText(attribute, value, maxLengths.name);
  }
}
