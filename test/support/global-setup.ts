import { execFileSync } from 'node:child_process';
import path from 'node:path';

const servicesScript = path.join(__dirname, '../../scripts/services.sh');

/**
 * What `npm test` needs on a fresh machine, installed as `npm start` installs the services:
 * Debian's Chromium for the browser test (apt-get when root, a clear message otherwise), then
 * Redis, PostgreSQL and FerretDB unless MONGO_URL and REDIS_URL point elsewhere.
 */
export function prepareTestMachine(env: NodeJS.ProcessEnv): void {
  try {
    execFileSync('bash', [servicesScript, 'chromium', '--quiet'], { stdio: 'inherit', env });
  } catch {
    // The script said what is missing; only the browser test needs it, so the rest still runs.
  }
  if (env.MONGO_URL !== undefined && env.REDIS_URL !== undefined) return;
  execFileSync('bash', [servicesScript, 'start', '--quiet'], { stdio: 'inherit', env });
}

/** Runs once, before any test file. */
export default function globalSetup(): void {
  prepareTestMachine(process.env);
}
