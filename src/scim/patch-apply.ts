import { AppError } from '../errors/app-error';
import type { UserAttributes } from './attribute-values';
import type { NormalisedOperation } from './patch-normaliser';

/**
 * Applies normalised operations in order to a copy of the user's attributes. `add` and
 * `replace` set a single-valued attribute alike, and both merge `name`'s sub-attributes (RFC
 * 7644 §3.5.2.1/3); `remove` unassigns, except for the required `userName` and `active`.
 */
export function applyPatch(
  current: UserAttributes,
  operations: NormalisedOperation[],
): UserAttributes {
  const next = { ...current };
  for (const operation of operations) {
    if (operation.op === 'remove') {
      switch (operation.attribute) {
        case 'userName':
        case 'active':
          throw new AppError(
            'invalid_value',
            `${operation.attribute} is required and cannot be removed`,
          );
        case 'externalId':
          next.externalId = null;
          break;
        case 'name':
          next.givenName = null;
          next.familyName = null;
          break;
        case 'name.givenName':
          next.givenName = null;
          break;
        case 'name.familyName':
          next.familyName = null;
          break;
      }
      continue;
    }
    switch (operation.attribute) {
      case 'name':
        if (operation.value.givenName !== undefined) next.givenName = operation.value.givenName;
        if (operation.value.familyName !== undefined) next.familyName = operation.value.familyName;
        break;
      case 'userName':
        if (typeof operation.value !== 'string') {
          throw new AppError('invalid_value', 'userName must not be empty');
        }
        next.userName = operation.value;
        break;
      case 'active':
        next.active = operation.value === true;
        break;
      case 'externalId':
        next.externalId = typeof operation.value === 'string' ? operation.value : null;
        break;
      case 'name.givenName':
        next.givenName = typeof operation.value === 'string' ? operation.value : null;
        break;
      case 'name.familyName':
        next.familyName = typeof operation.value === 'string' ? operation.value : null;
        break;
    }
  }
  return next;
}
