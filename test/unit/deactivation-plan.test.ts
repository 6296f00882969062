import { applicableSteps, buildPlan } from '../../src/domain/deactivation-plan';
import { stepNames, type StepName } from '../../src/domain/step-names';

const counts: Record<StepName, number> = {
  'revoke-tokens': 4,
  'cancel-subscriptions': 3,
  'transfer-opportunities': 5,
  'remove-from-teams': 2,
  'blocklist-email': 1,
};
const cutoff = new Date('2024-05-01T12:00:00.000Z');
const target = { to: 'usr_leader', teamId: 'team_1' };

describe('applicableSteps', () => {
  it('gives an employee all five steps', () => {
    expect(applicableSteps('employee', false)).toEqual({
      'revoke-tokens': true,
      'cancel-subscriptions': true,
      'transfer-opportunities': true,
      'remove-from-teams': true,
      'blocklist-email': true,
    });
  });

  it('gives a customer no transfer and no team removal', () => {
    expect(applicableSteps('customer', false)).toEqual({
      'revoke-tokens': true,
      'cancel-subscriptions': true,
      'transfer-opportunities': false,
      'remove-from-teams': false,
      'blocklist-email': true,
    });
  });

  it('drops only the blocklist when reactivation on purchase is allowed', () => {
    expect(applicableSteps('customer', true)).toEqual({
      'revoke-tokens': true,
      'cancel-subscriptions': true,
      'transfer-opportunities': false,
      'remove-from-teams': false,
      'blocklist-email': false,
    });
    expect(applicableSteps('employee', true)).toEqual({
      'revoke-tokens': true,
      'cancel-subscriptions': true,
      'transfer-opportunities': true,
      'remove-from-teams': true,
      'blocklist-email': false,
    });
  });

  it('answers for every step name, in the contract order', () => {
    expect(Object.keys(applicableSteps('employee', false))).toEqual([...stepNames]);
  });
});

describe('buildPlan', () => {
  it("keeps an employee's target, teams, cutoff and counts", () => {
    expect(
      buildPlan({
        userKind: 'employee',
        allowReactivationOnPurchase: false,
        cutoff,
        target,
        teamIds: ['team_1', 'team_2'],
        counts,
      }),
    ).toEqual({
      userKind: 'employee',
      allowReactivationOnPurchase: false,
      cutoff,
      steps: applicableSteps('employee', false),
      transferTo: 'usr_leader',
      transferTeamId: 'team_1',
      teamIds: ['team_1', 'team_2'],
      counts,
    });
  });

  it('has no target when none was found (the opportunities are retained)', () => {
    const plan = buildPlan({
      userKind: 'employee',
      allowReactivationOnPurchase: false,
      cutoff,
      target: null,
      teamIds: [],
      counts,
    });
    expect(plan.transferTo).toBeNull();
    expect(plan.transferTeamId).toBeNull();
    expect(plan.steps['transfer-opportunities']).toBe(true);
    expect(plan.counts?.['transfer-opportunities']).toBe(5);
  });

  it("ignores a customer's target and teams and zeroes the counts of steps that do not apply", () => {
    expect(
      buildPlan({
        userKind: 'customer',
        allowReactivationOnPurchase: false,
        cutoff,
        target,
        teamIds: ['team_1'],
        counts,
      }),
    ).toEqual({
      userKind: 'customer',
      allowReactivationOnPurchase: false,
      cutoff,
      steps: applicableSteps('customer', false),
      transferTo: null,
      transferTeamId: null,
      teamIds: [],
      counts: { ...counts, 'transfer-opportunities': 0, 'remove-from-teams': 0 },
    });
  });

  it('with allowReactivationOnPurchase drops the blocklist step and its count', () => {
    const employee = buildPlan({
      userKind: 'employee',
      allowReactivationOnPurchase: true,
      cutoff,
      target,
      teamIds: ['team_1'],
      counts,
    });
    expect(employee.allowReactivationOnPurchase).toBe(true);
    expect(employee.steps['blocklist-email']).toBe(false);
    expect(employee.counts).toEqual({ ...counts, 'blocklist-email': 0 });
    expect(employee.transferTo).toBe('usr_leader');

    const customer = buildPlan({
      userKind: 'customer',
      allowReactivationOnPurchase: true,
      cutoff,
      target: null,
      teamIds: [],
      counts,
    });
    expect(customer.steps).toEqual(applicableSteps('customer', true));
    expect(customer.counts).toEqual({
      'revoke-tokens': 4,
      'cancel-subscriptions': 3,
      'transfer-opportunities': 0,
      'remove-from-teams': 0,
      'blocklist-email': 0,
    });
  });
});
