import {
  chooseTransferTarget,
  orderTeams,
  type TeamForTransfer,
} from '../../src/domain/transfer-target';

const at = (minute: number): Date => new Date(Date.UTC(2024, 0, 1, 0, minute));
const team = (id: string, leaderId: string | null, minute: number): TeamForTransfer => ({
  _id: id,
  leaderId,
  createdAt: at(minute),
});
const active = (...ids: string[]): Set<string> => new Set(ids);

describe('orderTeams', () => {
  it('orders by createdAt, then _id, without changing its input', () => {
    const input = [team('t_c', null, 5), team('t_b', null, 1), team('t_a', null, 5)];
    expect(orderTeams(input).map((t) => t._id)).toEqual(['t_b', 't_a', 't_c']);
    expect(input.map((t) => t._id)).toEqual(['t_c', 't_b', 't_a']);
  });
});

describe('chooseTransferTarget', () => {
  it("takes the leader of the user's first team by createdAt, whatever the input order", () => {
    const ownTeams = [team('t_late', 'lead_late', 10), team('t_early', 'lead_early', 1)];
    expect(
      chooseTransferTarget('usr', { ownTeams, orgTeams: [] }, active('lead_late', 'lead_early')),
    ).toEqual({ to: 'lead_early', teamId: 't_early' });
  });

  it('breaks a createdAt tie by _id', () => {
    const ownTeams = [team('t_2', 'lead_2', 3), team('t_1', 'lead_1', 3)];
    expect(
      chooseTransferTarget('usr', { ownTeams, orgTeams: [] }, active('lead_1', 'lead_2')),
    ).toEqual({ to: 'lead_1', teamId: 't_1' });
  });

  it('skips an inactive leader and takes the next team in the same order', () => {
    const ownTeams = [
      team('t_3', 'lead_3', 30),
      team('t_1', 'lead_1', 10),
      team('t_2', 'lead_2', 20),
    ];
    expect(
      chooseTransferTarget('usr', { ownTeams, orgTeams: [] }, active('lead_2', 'lead_3')),
    ).toEqual({ to: 'lead_2', teamId: 't_2' });
    expect(chooseTransferTarget('usr', { ownTeams, orgTeams: [] }, active('lead_3'))).toEqual({
      to: 'lead_3',
      teamId: 't_3',
    });
  });

  it('skips a team without a leader', () => {
    const ownTeams = [team('t_1', null, 1), team('t_2', 'lead_2', 2)];
    expect(chooseTransferTarget('usr', { ownTeams, orgTeams: [] }, active('lead_2'))).toEqual({
      to: 'lead_2',
      teamId: 't_2',
    });
  });

  it('ignores a leader who is the user themself, even if listed as active', () => {
    const ownTeams = [team('t_1', 'usr', 1), team('t_2', 'lead_2', 2)];
    expect(
      chooseTransferTarget('usr', { ownTeams, orgTeams: [] }, active('usr', 'lead_2')),
    ).toEqual({ to: 'lead_2', teamId: 't_2' });
    expect(
      chooseTransferTarget(
        'usr',
        { ownTeams: [team('t_1', 'usr', 1)], orgTeams: [] },
        active('usr'),
      ),
    ).toBeNull();
  });

  it("sends a user in no team to the leader of the organization's first team with an active leader", () => {
    const orgTeams = [team('o_3', 'lead_3', 3), team('o_1', 'lead_1', 1), team('o_2', 'lead_2', 2)];
    expect(
      chooseTransferTarget('usr', { ownTeams: [], orgTeams }, active('lead_1', 'lead_2', 'lead_3')),
    ).toEqual({ to: 'lead_1', teamId: 'o_1' });
    expect(
      chooseTransferTarget('usr', { ownTeams: [], orgTeams }, active('lead_2', 'lead_3')),
    ).toEqual({ to: 'lead_2', teamId: 'o_2' });
  });

  it("consults the organization's teams only when the user is in none", () => {
    const ownTeams = [team('t_1', 'lead_own', 5)];
    const orgTeams = [team('o_1', 'lead_org', 1), ...ownTeams];
    expect(
      chooseTransferTarget('usr', { ownTeams, orgTeams }, active('lead_own', 'lead_org')),
    ).toEqual({ to: 'lead_own', teamId: 't_1' });
  });

  it('returns null when no team has an active leader', () => {
    const teams = [team('t_1', 'lead_1', 1), team('t_2', null, 2), team('t_3', 'usr', 3)];
    expect(
      chooseTransferTarget('usr', { ownTeams: teams, orgTeams: [] }, active('usr')),
    ).toBeNull();
    expect(
      chooseTransferTarget('usr', { ownTeams: [], orgTeams: teams }, active('usr')),
    ).toBeNull();
    expect(
      chooseTransferTarget('usr', { ownTeams: [], orgTeams: [] }, active('lead_1')),
    ).toBeNull();
  });
});
