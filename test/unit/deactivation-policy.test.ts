import {
  assertActorMayActOn,
  assertMayDeactivate,
  type PolicyFacts,
} from '../../src/domain/deactivation-policy';
import { AppError } from '../../src/errors/app-error';

type Person = NonNullable<PolicyFacts['actor']>;

const admin = (id = 'adm'): Person => ({
  _id: id,
  kind: 'employee',
  role: 'admin',
  status: 'active',
});
const manager = (id = 'mgr'): Person => ({
  _id: id,
  kind: 'employee',
  role: 'manager',
  status: 'active',
});
const member = (id = 'mem'): Person => ({
  _id: id,
  kind: 'employee',
  role: 'member',
  status: 'active',
});
const customer = (id = 'cus', role: Person['role'] = 'member'): Person => ({
  _id: id,
  kind: 'customer',
  role,
  status: 'active',
});

function facts(overrides: Partial<PolicyFacts> = {}): PolicyFacts {
  return {
    actor: admin(),
    user: member(),
    activeAdminCount: 2,
    ledTeamIds: [],
    runInProgressId: null,
    ...overrides,
  };
}

/** The refusal `fn` throws: its code, HTTP status and details; fails if it does not throw. */
function refusal(fn: () => void): { code: string; httpStatus: number; details: unknown } {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    const appError = error as AppError;
    return { code: appError.code, httpStatus: appError.httpStatus, details: appError.details };
  }
  throw new Error('expected a refusal, but the call passed');
}
const actorRefusal = (actor: PolicyFacts['actor'], user: Person) =>
  refusal(() => {
    assertActorMayActOn(actor, user);
  });
const deactivateRefusal = (overrides: Partial<PolicyFacts>) =>
  refusal(() => {
    assertMayDeactivate(facts(overrides));
  });

describe('assertActorMayActOn', () => {
  it.each([
    ['admin on member', admin(), member()],
    ['admin on manager', admin(), manager()],
    ['admin on another admin (equal rank)', admin('a1'), admin('a2')],
    ['manager on member', manager(), member()],
    ['manager on another manager', manager('m1'), manager('m2')],
    ['manager on a customer', manager(), customer()],
    [
      'manager on a customer whose role field says admin (customers rank as member)',
      manager(),
      customer('c', 'admin'),
    ],
  ])('allows %s', (_label, actor, user) => {
    expect(() => {
      assertActorMayActOn(actor, user);
    }).not.toThrow();
  });

  it('refuses an actor that names no user of the organization with 404 not_found', () => {
    expect(actorRefusal(null, member())).toMatchObject({ code: 'not_found', httpStatus: 404 });
  });

  it.each([
    ['a customer actor, even with role admin', customer('c', 'admin')],
    ['an inactive admin', { ...admin(), status: 'inactive' as const }],
    ['a deleted admin', { ...admin(), status: 'deleted' as const }],
    ['a member', member('m2')],
  ])('refuses %s with 403 actor_not_allowed', (_label, actor) => {
    expect(actorRefusal(actor, member())).toMatchObject({
      code: 'actor_not_allowed',
      httpStatus: 403,
    });
  });

  it('refuses acting on oneself with 403 self_deactivation', () => {
    expect(actorRefusal(admin('same'), admin('same'))).toMatchObject({
      code: 'self_deactivation',
      httpStatus: 403,
    });
    expect(actorRefusal(manager('same'), manager('same'))).toMatchObject({
      code: 'self_deactivation',
    });
  });

  it('refuses acting on a higher role with 403 higher_role', () => {
    expect(actorRefusal(manager(), admin())).toMatchObject({
      code: 'higher_role',
      httpStatus: 403,
    });
  });
});

describe('assertMayDeactivate', () => {
  it('passes an active member deactivated by an admin or a manager', () => {
    expect(() => {
      assertMayDeactivate(facts());
    }).not.toThrow();
    expect(() => {
      assertMayDeactivate(facts({ actor: manager() }));
    }).not.toThrow();
  });

  it('refuses a deleted user with 409 user_deleted', () => {
    expect(deactivateRefusal({ user: { ...member(), status: 'deleted' } })).toMatchObject({
      code: 'user_deleted',
      httpStatus: 409,
    });
  });

  it('refuses an inactive user with 409 already_inactive', () => {
    expect(deactivateRefusal({ user: { ...member(), status: 'inactive' } })).toMatchObject({
      code: 'already_inactive',
      httpStatus: 409,
    });
  });

  it('names the run still in progress with 409 deactivation_in_progress', () => {
    expect(
      deactivateRefusal({ user: { ...member(), status: 'inactive' }, runInProgressId: 'run_42' }),
    ).toEqual({
      code: 'deactivation_in_progress',
      httpStatus: 409,
      details: { deactivationId: 'run_42' },
    });
  });

  it('refuses the last active admin with 409 last_admin, and allows one of two', () => {
    expect(
      deactivateRefusal({ actor: admin('a1'), user: admin('a2'), activeAdminCount: 1 }),
    ).toMatchObject({ code: 'last_admin', httpStatus: 409 });
    expect(() => {
      assertMayDeactivate(facts({ actor: admin('a1'), user: admin('a2'), activeAdminCount: 2 }));
    }).not.toThrow();
  });

  it('does not count a customer whose role field says admin as an admin', () => {
    expect(() => {
      assertMayDeactivate(facts({ user: customer('c', 'admin'), activeAdminCount: 0 }));
    }).not.toThrow();
  });

  it('refuses a team leader with 409 team_leader listing the teams', () => {
    expect(deactivateRefusal({ ledTeamIds: ['team_b', 'team_a'] })).toEqual({
      code: 'team_leader',
      httpStatus: 409,
      details: { teamIds: ['team_b', 'team_a'] },
    });
  });

  describe('order: actor rules (403) come before the user state (409)', () => {
    const everyStateProblem: Partial<PolicyFacts> = {
      user: { ...admin('victim'), status: 'inactive' },
      activeAdminCount: 1,
      ledTeamIds: ['team_1'],
      runInProgressId: 'run_1',
    };

    it.each([
      ['an inactive actor', { ...admin(), status: 'inactive' as const }, 'actor_not_allowed'],
      ['a customer actor', customer(), 'actor_not_allowed'],
      ['a member actor', member(), 'actor_not_allowed'],
      ['a manager acting on an admin', manager(), 'higher_role'],
      ['the user themself', admin('victim'), 'self_deactivation'],
    ])('%s is refused with 403 even when the user is also in conflict', (_l, actor, code) => {
      expect(deactivateRefusal({ ...everyStateProblem, actor })).toMatchObject({
        code,
        httpStatus: 403,
      });
    });

    it.each([
      ['inactive', { ...member(), status: 'inactive' as const }, 'already_inactive'],
      ['deleted', { ...member(), status: 'deleted' as const }, 'user_deleted'],
      ['a team leader', member(), 'team_leader'],
    ])('a valid actor then gets the 409 for a user who is %s', (_l, user, code) => {
      expect(deactivateRefusal({ user, ledTeamIds: ['team_1'] })).toMatchObject({
        code,
        httpStatus: 409,
      });
    });

    it('self-deactivation of the last admin is a 403, not last_admin', () => {
      expect(
        deactivateRefusal({ actor: admin('me'), user: admin('me'), activeAdminCount: 1 }),
      ).toMatchObject({ code: 'self_deactivation', httpStatus: 403 });
    });
  });
});
