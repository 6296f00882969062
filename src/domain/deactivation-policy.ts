import { AppError } from '../errors/app-error';
import type { User } from '../models/user.model';
import { roleRank } from './role-rank';

/** What the policy needs to know, loaded by the caller. */
export interface PolicyFacts {
  actor: Pick<User, '_id' | 'kind' | 'role' | 'status'> | null;
  user: Pick<User, '_id' | 'kind' | 'role' | 'status'>;
  /** Active admins of the organization, the user included. */
  activeAdminCount: number;
  /** Teams the user leads, in order. */
  ledTeamIds: string[];
  /** The user's run that is still pending or running, if any. */
  runInProgressId: string | null;
}

/**
 * Checks who may act on whom (docs/rules.md) for a deactivation; throws the refusal.
 * Actor rules come first (403), then the user's state (409).
 */
export function assertMayDeactivate(facts: PolicyFacts): void {
  assertActorMayActOn(facts.actor, facts.user);
  const { user } = facts;
  if (user.status === 'deleted') {
    throw new AppError('user_deleted', 'The user has been deleted');
  }
  if (user.status === 'inactive') {
    if (facts.runInProgressId !== null) {
      throw new AppError(
        'deactivation_in_progress',
        'A deactivation of this user is still running',
        {
          details: { deactivationId: facts.runInProgressId },
        },
      );
    }
    throw new AppError('already_inactive', 'The user is already inactive');
  }
  if (user.kind === 'employee' && user.role === 'admin' && facts.activeAdminCount <= 1) {
    throw new AppError(
      'last_admin',
      'The last active admin of an organization cannot be deactivated',
    );
  }
  if (facts.ledTeamIds.length > 0) {
    throw new AppError('team_leader', 'Remove the user as leader of these teams first', {
      details: { teamIds: facts.ledTeamIds },
    });
  }
}

/**
 * The actor's own standing, whoever they act on: an active employee with role admin or
 * manager. An actor that names no user of the organization (`null`) is 404, like an unknown
 * user (docs/api.md). A bulk deactivation checks this once, up front; the rules about each user
 * come per user ({@link assertActorMayActOn}).
 */
export function assertActorMayAct(
  actor: PolicyFacts['actor'],
): asserts actor is NonNullable<PolicyFacts['actor']> {
  if (actor === null) {
    throw new AppError('not_found', 'Unknown actor: no user of this organization has this id');
  }
  if (actor.kind !== 'employee' || actor.status !== 'active') {
    throw new AppError(
      'actor_not_allowed',
      'The actor must be an active employee of the organization',
    );
  }
  if (actor.role !== 'admin' && actor.role !== 'manager') {
    throw new AppError('actor_not_allowed', 'Only admins and managers may do this');
  }
}

/**
 * The actor rules shared by deactivation and reactivation: the actor's standing
 * ({@link assertActorMayAct}), then not acting on themselves, nor on anyone ranking higher.
 */
export function assertActorMayActOn(
  actor: PolicyFacts['actor'],
  user: Pick<User, '_id' | 'kind' | 'role'>,
): void {
  assertActorMayAct(actor);
  if (actor._id === user._id) {
    throw new AppError('self_deactivation', 'Nobody may do this to themselves');
  }
  if (roleRank(user) > roleRank(actor)) {
    throw new AppError('higher_role', 'The user ranks higher than the actor');
  }
}
