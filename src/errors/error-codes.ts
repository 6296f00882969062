/**
 * Every error the service can report, with how it maps to HTTP and whether a job may retry it.
 * Codes are part of the API contract (see docs/api.md): clients branch on them.
 */
export const errorCodes = {
  validation_failed: { httpStatus: 400, retryable: false },
  // SCIM's own 400s (docs/scim.md): each becomes one `scimType`.
  invalid_filter: { httpStatus: 400, retryable: false },
  invalid_path: { httpStatus: 400, retryable: false },
  invalid_value: { httpStatus: 400, retryable: false },
  invalid_syntax: { httpStatus: 400, retryable: false },
  attribute_read_only: { httpStatus: 400, retryable: false },
  unauthorized: { httpStatus: 401, retryable: false },
  forbidden: { httpStatus: 403, retryable: false },
  actor_not_allowed: { httpStatus: 403, retryable: false },
  actor_mismatch: { httpStatus: 403, retryable: false },
  higher_role: { httpStatus: 403, retryable: false },
  self_deactivation: { httpStatus: 403, retryable: false },
  sweep_safety_requires_admin: { httpStatus: 403, retryable: false },
  not_found: { httpStatus: 404, retryable: false },
  method_not_allowed: { httpStatus: 405, retryable: false },
  already_inactive: { httpStatus: 409, retryable: false },
  already_active: { httpStatus: 409, retryable: false },
  team_leader: { httpStatus: 409, retryable: false },
  deactivation_in_progress: { httpStatus: 409, retryable: false },
  last_admin: { httpStatus: 409, retryable: false },
  not_deactivated: { httpStatus: 409, retryable: false },
  user_deleted: { httpStatus: 409, retryable: false },
  not_held: { httpStatus: 409, retryable: false },
  user_exists: { httpStatus: 409, retryable: false },
  precondition_failed: { httpStatus: 412, retryable: false },
  idempotency_in_flight: { httpStatus: 409, retryable: true },
  payload_too_large: { httpStatus: 413, retryable: false },
  unsupported_media_type: { httpStatus: 415, retryable: false },
  idempotency_key_reused: { httpStatus: 422, retryable: false },
  too_many_requests: { httpStatus: 429, retryable: true },
  run_superseded: { httpStatus: 409, retryable: false },
  invalid_step_data: { httpStatus: 500, retryable: false },
  run_not_found: { httpStatus: 500, retryable: false },
  bulk_not_found: { httpStatus: 500, retryable: false },
  user_not_found: { httpStatus: 500, retryable: false },
  user_not_deleted: { httpStatus: 500, retryable: false },
  no_job_handler: { httpStatus: 500, retryable: false },
  invalid_job_data: { httpStatus: 500, retryable: false },
  service_unavailable: { httpStatus: 503, retryable: true },
  config_invalid: { httpStatus: 500, retryable: false },
  internal: { httpStatus: 500, retryable: true },
} as const satisfies Record<string, { httpStatus: number; retryable: boolean }>;

/** A string code from {@link errorCodes}. */
export type ErrorCode = keyof typeof errorCodes;
