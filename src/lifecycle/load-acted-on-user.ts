import { assertActorMayActOn } from '../domain/deactivation-policy';
import { AppError } from '../errors/app-error';
import type { Models } from '../models/create-models';
import type { User } from '../models/user.model';

/** The rank a system actor (`system:scim`) acts with: an active admin's, as sweeps do. */
function systemActorFacts(actorId: string): Pick<User, '_id' | 'kind' | 'role' | 'status'> {
  return { _id: actorId, kind: 'employee', role: 'admin', status: 'active' };
}

/**
 * Loads the user an actor acts on and checks the actor rules shared by the lifecycle requests:
 * 404 for an unknown organization, user or actor, then the actor rules (403). A system actor is
 * no user: it is checked with an active admin's facts.
 */
export async function loadActedOnUser(
  models: Models,
  request: { orgId: string; userId: string; actorId: string },
  systemActor = false,
): Promise<{ user: User; actor: Pick<User, '_id' | 'kind' | 'role' | 'status'> }> {
  const { orgId, userId, actorId } = request;
  const [orgExists, user, actor] = await Promise.all([
    models.organizations.exists({ _id: orgId }),
    models.users.findOne({ _id: userId, orgId }).lean(),
    systemActor ? systemActorFacts(actorId) : models.users.findOne({ _id: actorId, orgId }).lean(),
  ]);
  if (!orgExists) throw new AppError('not_found', `Unknown organization ${orgId}`);
  if (!user) throw new AppError('not_found', `Unknown user ${userId}`);
  assertActorMayActOn(actor, user);
  // assertActorMayActOn refuses a missing actor.
  return { user, actor: actor as User };
}
