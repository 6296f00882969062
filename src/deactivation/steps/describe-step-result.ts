import type { StepName } from '../../models/deactivation.model';

const count = (value: unknown): number => (typeof value === 'number' ? value : 0);
const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

/**
 * One readable line of what a step changed, for the job's return value in the dashboard. Ids and
 * counts only, like everything else a job carries.
 */
export function describeStepResult(step: StepName, result: Record<string, unknown>): string {
  switch (step) {
    case 'revoke-tokens':
      return `revoked ${plural(count(result.revoked), 'token, session or API key', 'tokens, sessions and API keys')}`;
    case 'cancel-subscriptions':
      return `canceled ${plural(count(result.canceled), 'subscription', 'subscriptions')}`;
    case 'transfer-opportunities':
      return typeof result.to === 'string'
        ? `transferred ${plural(count(result.transferred), 'open opportunity', 'open opportunities')} to ${result.to}`
        : `no transfer target: ${plural(count(result.retained), 'open opportunity stays', 'open opportunities stay')} with the user`;
    case 'remove-from-teams':
      return `removed the user from ${plural(count(result.teams), 'team', 'teams')}`;
    case 'blocklist-email':
      return count(result.blocked) > 0
        ? 'added the email to the blocklist'
        : 'the email was already blocklisted';
  }
}
