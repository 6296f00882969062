import { AppError } from '../errors/app-error';
import type { ErrorCode } from '../errors/error-codes';
import { toAppError } from '../errors/to-app-error';
import { scimUrns } from './scim-constants';

/** RFC 7644 §3.12's error body; `status` is a string. */
export interface ScimErrorBody {
  schemas: [typeof scimUrns.error];
  status: string;
  scimType?: string;
  detail: string;
}

/** The `scimType` of the codes that have one (RFC 7644 table 9). */
const scimTypes: Partial<Record<ErrorCode, string>> = {
  invalid_filter: 'invalidFilter',
  invalid_path: 'invalidPath',
  invalid_value: 'invalidValue',
  validation_failed: 'invalidValue',
  invalid_syntax: 'invalidSyntax',
  attribute_read_only: 'mutability',
  user_exists: 'uniqueness',
};

function teamIdsOf(details: unknown): string[] {
  const teamIds = (details as { teamIds?: unknown } | null | undefined)?.teamIds;
  return Array.isArray(teamIds) ? teamIds.filter((id): id is string => typeof id === 'string') : [];
}

/**
 * The `detail` of an error: the rule's code first, so a provider's log names the rule (e.g.
 * `team_leader`), then the message, then the teams a team leader leads. Server errors say no
 * more than that something failed: their cause is in offboard's log.
 */
function detailOf(error: AppError): string {
  if (error.httpStatus >= 500) {
    return error.code === 'service_unavailable'
      ? 'service_unavailable: a backing service is unavailable; try again'
      : 'internal: the request failed; offboard logged why';
  }
  const teams = teamIdsOf(error.details);
  return `${error.code}: ${error.message}${teams.length > 0 ? ` (teams: ${teams.join(', ')})` : ''}`;
}

/** Maps anything thrown to its HTTP status and SCIM error body; the one SCIM error mapping. */
export function toScimError(thrown: unknown): { error: AppError; body: ScimErrorBody } {
  const error = toAppError(thrown);
  const scimType = scimTypes[error.code];
  return {
    error,
    body: {
      schemas: [scimUrns.error],
      status: String(error.httpStatus),
      ...(scimType === undefined ? {} : { scimType }),
      detail: detailOf(error),
    },
  };
}

/** Shorthand for the 404 every unknown, deleted or other organization's user gets. */
export function userNotFound(id: string): AppError {
  return new AppError('not_found', `No user ${id} in this organization`);
}
