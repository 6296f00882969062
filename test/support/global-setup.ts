import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * Starts (or reuses) the local Redis, PostgreSQL and FerretDB unless MONGO_URL and REDIS_URL
 * point elsewhere. Runs once, before any test file.
 */
export default function globalSetup(): void {
  if (process.env.MONGO_URL !== undefined && process.env.REDIS_URL !== undefined) return;
  execFileSync('bash', [path.join(__dirname, '../../scripts/services.sh'), 'start', '--quiet'], {
    stdio: 'inherit',
  });
}
