import { AppError } from '../errors/app-error';
import type { AttributePath } from './filter-parser';
import { scimUrns } from './scim-constants';

/** The attributes offboard stores for a SCIM user, by the name PATCH and filters use. */
export type StoredAttribute =
  'userName' | 'externalId' | 'active' | 'name.givenName' | 'name.familyName';

/**
 * What an attribute path names:
 * - `stored`: one attribute offboard keeps (or `name`, both of its kept sub-attributes);
 * - `readOnly`: `id`, `meta`, `schemas`: a client cannot write them;
 * - `derived`: `emails`, always the `userName` as the one work address; writes are ignored;
 * - `ignored`: an attribute of the core User schema or its enterprise extension that offboard
 *   does not keep (displayName, title, phoneNumbers, manager…): accepted and dropped, since
 *   providers send them with every change.
 */
export type AttributeTarget =
  | { kind: 'stored'; attribute: StoredAttribute | 'name' }
  | { kind: 'readOnly' | 'derived' | 'ignored'; attribute: string };

/** RFC 7643 §4.1's User attributes that offboard accepts and does not keep. */
const ignoredCoreAttributes = new Set([
  'displayname',
  'nickname',
  'profileurl',
  'title',
  'usertype',
  'preferredlanguage',
  'locale',
  'timezone',
  'password',
  'phonenumbers',
  'ims',
  'photos',
  'addresses',
  'groups',
  'entitlements',
  'roles',
  'x509certificates',
]);
const ignoredNameParts = new Set(['formatted', 'middlename', 'honorificprefix', 'honorificsuffix']);
const enterpriseUrn = scimUrns.enterpriseUser.toLowerCase();
const userUrn = scimUrns.user.toLowerCase();

function unknown(path: AttributePath): never {
  throw new AppError('invalid_path', `"${path.text}" is not an attribute of a User`);
}

/**
 * Resolves a parsed path to what it names; 400 `invalid_path` for anything that is not an
 * attribute of the User schema or its enterprise extension. A value filter (`emails[type eq
 * "work"]`) is only meaningful on multi-valued attributes, which offboard derives or ignores.
 */
export function resolveUserAttribute(path: AttributePath): AttributeTarget {
  if (path.schema === enterpriseUrn) return { kind: 'ignored', attribute: path.text };
  if (path.schema !== null && path.schema !== userUrn) unknown(path);
  const { attribute, subAttribute, valueFilter } = path;
  if (attribute === 'emails') return { kind: 'derived', attribute: 'emails' };
  if (ignoredCoreAttributes.has(attribute)) return { kind: 'ignored', attribute: path.text };
  if (valueFilter !== null) unknown(path);
  if (
    path.schema === null &&
    (attribute === 'id' || attribute === 'meta' || attribute === 'schemas')
  ) {
    return { kind: 'readOnly', attribute };
  }
  if (attribute === 'name') {
    if (subAttribute === null) return { kind: 'stored', attribute: 'name' };
    if (subAttribute === 'givenname') return { kind: 'stored', attribute: 'name.givenName' };
    if (subAttribute === 'familyname') return { kind: 'stored', attribute: 'name.familyName' };
    if (ignoredNameParts.has(subAttribute)) return { kind: 'ignored', attribute: path.text };
    return unknown(path);
  }
  if (subAttribute !== null) unknown(path);
  if (attribute === 'username') return { kind: 'stored', attribute: 'userName' };
  if (attribute === 'externalid') return { kind: 'stored', attribute: 'externalId' };
  if (attribute === 'active') return { kind: 'stored', attribute: 'active' };
  return unknown(path);
}
