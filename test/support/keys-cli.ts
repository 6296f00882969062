import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { mongoUrl, redisUrl } from './test-env';

const root = path.join(__dirname, '../..');
const run = promisify(execFile);

/** What one run of the keys command printed, and how it exited. */
export interface CliOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `npm run keys -- <args>` (minus the services script) against the database `dbName` of
 * the test store.
 */
export async function runKeysCli(dbName: string, args: string[]): Promise<CliOutcome> {
  const store = new URL(mongoUrl);
  store.pathname = `/${dbName}`;
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', path.join(root, 'src/entry/keys-cli.ts'), ...args],
      {
        cwd: root,
        env: { PATH: process.env.PATH ?? '', MONGO_URL: store.toString(), REDIS_URL: redisUrl },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}
