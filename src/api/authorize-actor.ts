import { AppError } from '../errors/app-error';
import type { ApiKey } from '../models/api-key.model';

/** The `actorId` a validated request body names, if it names one. */
function bodyActorId(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || !('actorId' in body)) return undefined;
  const { actorId } = body;
  return typeof actorId === 'string' ? actorId : undefined;
}

/**
 * Throws 403 `actor_mismatch` when a key bound to a user sends a body naming another actor. Every
 * route that acts for someone takes the actor as `actorId` in its body, so checking the validated
 * body once, in the route layer, covers them all (and any route added later). A service key (no
 * `actorId`) may name any actor of its organizations; the actor's own rights are checked later.
 */
export function authorizeActor(key: Pick<ApiKey, 'actorId'> | null, body: unknown): void {
  const bound = key?.actorId ?? null;
  if (bound === null) return;
  const named = bodyActorId(body);
  if (named !== undefined && named !== bound) {
    throw new AppError('actor_mismatch', 'This API key may act only as the user it is bound to');
  }
}
