import { parseArgs } from 'node:util';
import { createApiKey, listApiKeys, revokeApiKey } from '../auth/api-key-repository';
import { AppError } from '../errors/app-error';
import { withStore } from './with-store';

const usage = `usage:
  npm run keys -- create --name <name> --scopes <read,write,delete,purchases,admin,scim|*> --orgs <ids|*> [--actor <userId>]
  npm run keys -- list
  npm run keys -- revoke <id>`;

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    name: { type: 'string' },
    scopes: { type: 'string' },
    orgs: { type: 'string' },
    actor: { type: 'string' },
  },
});
const [command, id] = positionals;

void withStore(async (models) => {
  switch (command) {
    case 'create': {
      const created = await createApiKey(models, {
        name: values.name ?? '',
        scopes: list(values.scopes),
        orgIds: list(values.orgs),
        actorId: values.actor ?? null,
      });
      // The key alone on standard output, so scripts can capture it; the rest goes to stderr.
      process.stdout.write(`${created.key}\n`);
      process.stderr.write(
        created.actorId === null
          ? `created key ${created.id}, a service key: its requests may name any actor (actorId) of its organizations; use --actor <userId> for a key that acts only as one user. It is not shown again.\n`
          : `created key ${created.id}, bound to actor ${created.actorId}: it acts only as that user (another actorId is refused with 403 actor_mismatch). It is not shown again.\n`,
      );
      return;
    }
    case 'list':
      for (const key of await listApiKeys(models)) {
        process.stdout.write(
          `${key._id}\t${key.prefix}…\t${key.name}\tscopes=${key.scopes.join(',')}\torgs=${key.orgIds.join(',')}\tactor=${key.actorId ?? '(service key)'}\t${key.revokedAt ? `revoked ${key.revokedAt.toISOString()}` : 'active'}\n`,
        );
      }
      return;
    case 'revoke':
      if (id === undefined) throw new AppError('validation_failed', usage);
      if (!(await revokeApiKey(models, id))) throw new AppError('not_found', `No active key ${id}`);
      process.stderr.write(`revoked key ${id}\n`);
      return;
    default:
      throw new AppError('validation_failed', usage);
  }
});
