import { AppError } from '../../src/errors/app-error';
import type { UserAttributes } from '../../src/scim/attribute-values';
import { applyPatch } from '../../src/scim/patch-apply';
import { normalisePatch } from '../../src/scim/patch-normaliser';
import { parseUserInput } from '../../src/scim/user-input';

const patchOp = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const userUrn = 'urn:ietf:params:scim:schemas:core:2.0:User';
const enterpriseUrn = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

const current: UserAttributes = {
  userName: 'ada@example.com',
  externalId: 'ext-1',
  givenName: 'Ada',
  familyName: 'Lovelace',
  active: true,
};

function patch(...operations: unknown[]): UserAttributes {
  return applyPatch(
    current,
    normalisePatch({ schemas: [patchOp], Operations: operations }, 'usr_1'),
  );
}

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return error instanceof AppError ? error.code : 'not an AppError';
  }
  return 'no error';
}

describe('SCIM PATCH normaliser and applier', () => {
  it("applies Okta's path-less replace", () => {
    expect(patch({ op: 'replace', value: { active: false } })).toEqual({
      ...current,
      active: false,
    });
  });

  it("applies Entra ID's capitalised ops and string booleans", () => {
    expect(patch({ op: 'Replace', path: 'active', value: 'False' }).active).toBe(false);
    expect(patch({ op: 'REPLACE', path: 'active', value: 'true' }).active).toBe(true);
    expect(patch({ op: 'Add', path: 'active', value: ' FALSE ' }).active).toBe(false);
  });

  it('accepts dotted, URN-prefixed and nested keys in a path-less value', () => {
    expect(
      patch({
        op: 'replace',
        value: {
          'name.givenName': 'Augusta',
          [`${userUrn}:name.familyName`]: 'King',
          [userUrn]: { externalId: 'ext-2' },
          [enterpriseUrn]: { department: 'Maths' },
          id: 'usr_1',
          schemas: [userUrn],
          displayName: 'Augusta King',
        },
      }),
    ).toEqual({ ...current, givenName: 'Augusta', familyName: 'King', externalId: 'ext-2' });
  });

  it('lower-cases a new userName and merges name sub-attributes on add and replace', () => {
    expect(
      patch({ op: 'replace', path: 'userName', value: ' Augusta@Example.COM ' }).userName,
    ).toBe('augusta@example.com');
    expect(patch({ op: 'add', path: 'name', value: { givenName: 'Augusta' } })).toEqual({
      ...current,
      givenName: 'Augusta',
    });
    expect(patch({ op: 'replace', path: 'name', value: { familyName: null } })).toEqual({
      ...current,
      familyName: null,
    });
  });

  it('removes optional attributes and refuses to remove required ones', () => {
    expect(patch({ op: 'remove', path: 'externalId' }).externalId).toBeNull();
    expect(patch({ op: 'remove', path: 'name' })).toEqual({
      ...current,
      givenName: null,
      familyName: null,
    });
    expect(patch({ op: 'remove', path: 'name.givenName' }).givenName).toBeNull();
    expect(codeOf(() => patch({ op: 'remove', path: 'userName' }))).toBe('invalid_value');
    expect(codeOf(() => patch({ op: 'remove', path: 'active' }))).toBe('invalid_value');
  });

  it('ignores what offboard does not keep: emails (derived), other core and enterprise attributes', () => {
    expect(
      patch(
        { op: 'replace', path: 'emails[type eq "work"].value', value: 'other@example.com' },
        { op: 'Replace', path: 'displayName', value: 'Ada' },
        { op: 'Add', path: 'addresses[type eq "work"].formatted', value: '1 Main St' },
        { op: 'replace', path: `${enterpriseUrn}:manager`, value: { value: 'usr_9' } },
        { op: 'replace', path: 'name.formatted', value: 'Ada Lovelace' },
      ),
    ).toEqual(current);
  });

  it('applies operations in order', () => {
    expect(
      patch(
        { op: 'replace', path: 'active', value: false },
        { op: 'replace', path: 'active', value: true },
      ).active,
    ).toBe(true);
  });

  it.each([
    ['no body', null, 'invalid_syntax'],
    [
      'no schemas',
      { Operations: [{ op: 'replace', path: 'active', value: false }] },
      'invalid_syntax',
    ],
    [
      'wrong schema',
      { schemas: [userUrn], Operations: [{ op: 'add', value: {} }] },
      'invalid_syntax',
    ],
    ['no operations', { schemas: [patchOp], Operations: [] }, 'invalid_syntax'],
    ['operations not an array', { schemas: [patchOp], Operations: {} }, 'invalid_syntax'],
    [
      'an unknown op',
      { schemas: [patchOp], Operations: [{ op: 'move', path: 'active' }] },
      'invalid_syntax',
    ],
    [
      'an unknown attribute',
      {
        schemas: [patchOp],
        Operations: [{ op: 'replace', path: 'favouriteColour', value: 'red' }],
      },
      'invalid_path',
    ],
    [
      'an unknown sub-attribute',
      { schemas: [patchOp], Operations: [{ op: 'replace', path: 'name.nickname', value: 'x' }] },
      'invalid_path',
    ],
    [
      'an unknown schema',
      {
        schemas: [patchOp],
        Operations: [{ op: 'replace', path: 'urn:example:x:attr', value: 'x' }],
      },
      'invalid_path',
    ],
    [
      'an unknown key in a path-less value',
      { schemas: [patchOp], Operations: [{ op: 'replace', value: { favouriteColour: 'red' } }] },
      'invalid_path',
    ],
    [
      'a malformed path',
      { schemas: [patchOp], Operations: [{ op: 'replace', path: 'name..x', value: 'x' }] },
      'invalid_path',
    ],
    [
      'a path that is not a string',
      { schemas: [patchOp], Operations: [{ op: 'replace', path: 3, value: 'x' }] },
      'invalid_path',
    ],
    [
      'a remove without a path',
      { schemas: [patchOp], Operations: [{ op: 'remove' }] },
      'invalid_path',
    ],
    [
      'a filter on a single-valued attribute',
      {
        schemas: [patchOp],
        Operations: [{ op: 'replace', path: 'userName[value eq "x"]', value: 'x' }],
      },
      'invalid_path',
    ],
    [
      'active not a boolean',
      { schemas: [patchOp], Operations: [{ op: 'replace', path: 'active', value: 'no' }] },
      'invalid_value',
    ],
    [
      'active a number',
      { schemas: [patchOp], Operations: [{ op: 'replace', value: { active: 0 } }] },
      'invalid_value',
    ],
    [
      'userName not a string',
      { schemas: [patchOp], Operations: [{ op: 'replace', path: 'userName', value: 42 }] },
      'invalid_value',
    ],
    [
      'an empty userName',
      { schemas: [patchOp], Operations: [{ op: 'replace', path: 'userName', value: '  ' }] },
      'invalid_value',
    ],
    [
      'name not an object',
      { schemas: [patchOp], Operations: [{ op: 'replace', path: 'name', value: 'Ada' }] },
      'invalid_value',
    ],
    [
      'a replace without a value',
      { schemas: [patchOp], Operations: [{ op: 'replace', path: 'externalId' }] },
      'invalid_value',
    ],
    [
      'a path-less value that is not an object',
      { schemas: [patchOp], Operations: [{ op: 'replace', value: false }] },
      'invalid_value',
    ],
    [
      'a read-only id',
      { schemas: [patchOp], Operations: [{ op: 'replace', path: 'id', value: 'other' }] },
      'attribute_read_only',
    ],
    [
      'another id in a path-less value',
      { schemas: [patchOp], Operations: [{ op: 'replace', value: { id: 'other' } }] },
      'attribute_read_only',
    ],
    [
      'meta',
      { schemas: [patchOp], Operations: [{ op: 'replace', path: 'meta.created', value: 'x' }] },
      'attribute_read_only',
    ],
  ])('refuses %s', (_what, body, code) => {
    expect(codeOf(() => normalisePatch(body, 'usr_1'))).toBe(code);
  });

  it('refuses the whole request when any operation is bad', () => {
    expect(
      codeOf(() =>
        normalisePatch(
          {
            schemas: [patchOp],
            Operations: [
              { op: 'replace', path: 'active', value: false },
              { op: 'replace', path: 'nope', value: 1 },
            ],
          },
          'usr_1',
        ),
      ),
    ).toBe('invalid_path');
  });
});

describe('SCIM User bodies (POST, PUT)', () => {
  it('keeps what offboard stores, with Entra string booleans, and drops the rest', () => {
    expect(
      parseUserInput({
        schemas: [userUrn, enterpriseUrn],
        userName: 'Ada@Example.com',
        externalId: 'ext-1',
        name: { givenName: 'Ada', familyName: 'Lovelace', formatted: 'Ada Lovelace' },
        emails: [{ value: 'ada@example.com', type: 'work', primary: true }],
        displayName: 'Ada',
        active: 'True',
        password: 'secret',
        groups: [],
        [enterpriseUrn]: { employeeNumber: '1' },
        id: 'ignored',
        meta: { resourceType: 'User' },
      }),
    ).toEqual({
      userName: 'ada@example.com',
      externalId: 'ext-1',
      givenName: 'Ada',
      familyName: 'Lovelace',
      active: true,
    });
    expect(parseUserInput({ schemas: [userUrn], userName: 'a@b.c' }).active).toBeUndefined();
  });

  it.each([
    ['a body that is not an object', [], 'invalid_syntax'],
    ['no schemas', { userName: 'a@b.c' }, 'invalid_syntax'],
    ['no User schema', { schemas: ['urn:x'], userName: 'a@b.c' }, 'invalid_syntax'],
    ['no userName', { schemas: [userUrn], name: { givenName: 'A' } }, 'invalid_value'],
    [
      'a userName that is not a string',
      { schemas: [userUrn], userName: ['a@b.c'] },
      'invalid_value',
    ],
    [
      'active not a boolean',
      { schemas: [userUrn], userName: 'a@b.c', active: 'yes' },
      'invalid_value',
    ],
    [
      'an unknown attribute',
      { schemas: [userUrn], userName: 'a@b.c', favouriteColour: 'red' },
      'invalid_value',
    ],
    ['name not an object', { schemas: [userUrn], userName: 'a@b.c', name: 'Ada' }, 'invalid_value'],
    [
      'a givenName that is not a string',
      { schemas: [userUrn], userName: 'a@b.c', name: { givenName: 1 } },
      'invalid_value',
    ],
    [
      'a userName over 320 characters',
      { schemas: [userUrn], userName: `${'a'.repeat(320)}@b.c` },
      'invalid_value',
    ],
  ])('refuses %s', (_what, body, code) => {
    expect(codeOf(() => parseUserInput(body))).toBe(code);
  });
});
