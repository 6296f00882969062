/** The five steps of a deactivation, in their fixed order (see docs/jobs.md). */
export const stepNames = [
  'revoke-tokens',
  'cancel-subscriptions',
  'transfer-opportunities',
  'remove-from-teams',
  'blocklist-email',
] as const;
export type StepName = (typeof stepNames)[number];
