import { AppError } from '../../src/errors/app-error';
import { parseAttributePath, parseFilter } from '../../src/scim/filter-parser';
import { filterToConditions } from '../../src/scim/filter-query';

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return error instanceof AppError ? error.code : 'not an AppError';
  }
  return 'no error';
}

const conditions = (filter: string): ReturnType<typeof filterToConditions> =>
  filterToConditions(parseFilter(filter));

describe('SCIM filter parser', () => {
  it('parses comparisons, and/or/not, grouping, value filters and literals', () => {
    expect(parseFilter('userName eq "Ada@Example.com"')).toMatchObject({
      kind: 'compare',
      op: 'eq',
      path: { attribute: 'username', subAttribute: null, schema: null },
      value: 'Ada@Example.com',
    });
    expect(parseFilter('active EQ True and (externalId eq "x" or not (title pr))')).toMatchObject({
      kind: 'and',
      filters: [
        { kind: 'compare', value: true },
        {
          kind: 'or',
          filters: [{ kind: 'compare' }, { kind: 'not', filter: { kind: 'present' } }],
        },
      ],
    });
    expect(parseFilter('emails[type eq "work"].value eq "a@b.c"')).toMatchObject({
      path: {
        attribute: 'emails',
        subAttribute: 'value',
        valueFilter: { kind: 'compare', path: { attribute: 'type' }, value: 'work' },
      },
    });
    expect(parseFilter('count gt -1.5e2')).toMatchObject({ op: 'gt', value: -150 });
    expect(parseFilter('x eq null')).toMatchObject({ value: null });
    expect(parseFilter('userName eq "quote \\" and \\u00e9"')).toMatchObject({
      value: 'quote " and é',
    });
  });

  it('strips the User schema URN, whose version has a dot, and keeps an unknown one', () => {
    expect(
      parseFilter('urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "Ada"'),
    ).toMatchObject({
      path: {
        schema: 'urn:ietf:params:scim:schemas:core:2.0:user',
        attribute: 'name',
        subAttribute: 'givenname',
      },
    });
    expect(parseAttributePath('urn:example:custom:thing')).toMatchObject({
      schema: 'urn:example:custom',
      attribute: 'thing',
    });
  });

  it.each([
    '',
    'userName',
    'userName eq',
    'userName eq "unterminated',
    'userName equals "a"',
    'userName eq unquoted',
    '(userName eq "a"',
    'userName eq "a" and',
    'userName eq "a" extra',
    'emails[type eq "work" .value eq "a"',
    '1abc eq "a"',
    'a.b.c eq "a"',
    'x'.repeat(2_001),
  ])('refuses the malformed filter %j with invalid_filter', (filter) => {
    expect(codeOf(() => parseFilter(filter))).toBe('invalid_filter');
  });

  it('refuses malformed PATCH paths with invalid_path', () => {
    for (const path of ['', 'name..givenName', 'emails[type eq "work"', 'a b', '"quoted"']) {
      expect([path, codeOf(() => parseAttributePath(path))]).toEqual([path, 'invalid_path']);
    }
  });
});

describe('SCIM filter to user conditions', () => {
  it('matches userName and email case-insensitively, against the stored lower-case email', () => {
    expect(conditions('userName eq "Ada@Example.com"')).toEqual({ email: 'ada@example.com' });
    expect(conditions('USERNAME Eq "ADA@example.com"')).toEqual({ email: 'ada@example.com' });
    expect(conditions('emails.value eq "Ada@Example.com"')).toEqual({ email: 'ada@example.com' });
    expect(conditions('emails[type eq "work"].value eq "a@b.c"')).toEqual({ email: 'a@b.c' });
    expect(conditions('emails[Type eq "WORK" and primary eq true].value eq "a@b.c"')).toEqual({
      email: 'a@b.c',
    });
  });

  it('keeps externalId case-exact and maps active to a status', () => {
    expect(conditions('externalId eq "AbC"')).toEqual({ externalId: 'AbC' });
    expect(conditions('active eq false')).toEqual({ status: 'inactive' });
    expect(conditions('active eq "True"')).toEqual({ status: 'active' });
    expect(conditions('userName eq "a@b.c" and active eq true and externalId eq "1"')).toEqual({
      email: 'a@b.c',
      status: 'active',
      externalId: '1',
    });
  });

  it('matches no one for contradictions and for addresses that are not the work one', () => {
    expect(conditions('userName eq "a@b.c" and userName eq "d@e.f"')).toBeNull();
    expect(conditions('userName eq "a@b.c" and emails.value eq "A@B.C"')).toEqual({
      email: 'a@b.c',
    });
    expect(conditions('emails[type eq "home"].value eq "a@b.c"')).toBeNull();
  });

  it.each([
    'userName ne "a"',
    'userName sw "a"',
    'userName pr',
    'userName eq "a" or userName eq "b"',
    'not (userName eq "a")',
    'displayName eq "Ada"',
    'name.givenName eq "Ada"',
    'meta.lastModified gt "2020-01-01T00:00:00Z"',
    'userName eq true',
    'active eq "maybe"',
    'emails[value co "x"].value eq "a"',
    'urn:example:custom:attr eq "a"',
    // Refused whatever its position, even after a part that matches no one.
    'userName eq "a" and userName eq "b" and title eq "x"',
  ])('refuses %j with invalid_filter', (filter) => {
    expect(codeOf(() => conditions(filter))).toBe('invalid_filter');
  });
});
