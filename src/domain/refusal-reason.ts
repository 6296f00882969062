import type { ErrorCode } from '../errors/error-codes';

/**
 * The reason a bulk deactivation or sweep skips a user, from the refusal a single deactivation
 * would have given. `null` for errors that are not about the user (they fail the batch).
 */
export function skipReason(code: ErrorCode): string | null {
  switch (code) {
    case 'higher_role':
    case 'team_leader':
    case 'last_admin':
    case 'already_inactive':
    case 'not_found':
      return code;
    case 'self_deactivation':
      return 'self';
    case 'deactivation_in_progress':
      return 'already_inactive';
    case 'user_deleted':
      return 'not_found';
    default:
      return null;
  }
}
