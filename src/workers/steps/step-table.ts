import type { StepName } from '../../models/deactivation.model';
import { blocklistEmail } from './blocklist-email.step';
import { cancelSubscriptions } from './cancel-subscriptions.step';
import { removeFromTeams } from './remove-from-teams.step';
import { revokeTokens } from './revoke-tokens.step';
import type { Step } from './step';
import { transferOpportunities } from './transfer-opportunities.step';

/** Every step by its contract name; a missing one is a type error. */
export const stepTable: Record<StepName, Step> = {
  'revoke-tokens': revokeTokens,
  'cancel-subscriptions': cancelSubscriptions,
  'transfer-opportunities': transferOpportunities,
  'remove-from-teams': removeFromTeams,
  'blocklist-email': blocklistEmail,
};
