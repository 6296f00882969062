import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { freePort } from '../test-kit/free-port';

const root = path.join(__dirname, '..');
const ferretDbBin = path.join(root, '.cache/ferretdb-v1.24.2/bin/ferretdb');

function postgresBin(name: string): string {
  const versions = readdirSync('/usr/lib/postgresql').sort();
  const newest = versions.at(-1);
  if (newest === undefined) throw new Error('PostgreSQL is not installed');
  return path.join('/usr/lib/postgresql', newest, 'bin', name);
}

const isRoot = process.getuid?.() === 0;

/** initdb and pg_ctl refuse root: run them as the postgres user. */
function asPostgres(command: string, args: string[]): void {
  if (isRoot)
    execFileSync('runuser', ['-u', 'postgres', '--', command, ...args], { stdio: 'ignore' });
  else execFileSync(command, args, { stdio: 'ignore' });
}

/**
 * A store of the drill's own that it may stop and start: a PostgreSQL cluster in a temporary
 * folder and a FerretDB process on it, built by `npm run services` (scripts/services.sh).
 */
export interface PrivateStore {
  mongoUrl: string;
  stopFerretDb: () => Promise<void>;
  startFerretDb: () => Promise<void>;
  stopPostgres: () => Promise<void>;
  startPostgres: () => Promise<void>;
  close: () => Promise<void>;
}

export async function startPrivateStore(): Promise<PrivateStore> {
  // The binary exists once `services.sh start` has built it, unless it reused a store already
  // answering: build it here too (a no-op when present).
  execFileSync('bash', [path.join(root, 'scripts/services.sh'), 'build-ferretdb'], {
    stdio: 'inherit',
  });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'drill-pg-'));
  if (isRoot) {
    execFileSync('chown', ['-R', 'postgres', dataDir]);
    chownSync(dataDir, Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), -1);
  }
  const pgData = path.join(dataDir, 'pg');
  const pgPort = await freePort();
  const mongoPort = await freePort();
  asPostgres(postgresBin('initdb'), ['-D', pgData, '-A', 'trust', '-U', 'postgres']);
  const startPostgres = (): Promise<void> => {
    asPostgres(postgresBin('pg_ctl'), [
      '-D',
      pgData,
      '-l',
      path.join(dataDir, 'postgres.log'),
      '-w',
      '-t',
      '30',
      '-o',
      `-p ${pgPort} -k ${dataDir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
      'start',
    ]);
    return Promise.resolve();
  };
  const stopPostgres = (): Promise<void> => {
    asPostgres(postgresBin('pg_ctl'), ['-D', pgData, '-m', 'immediate', '-w', 'stop']);
    return Promise.resolve();
  };
  await startPostgres();
  execFileSync(postgresBin('createdb'), [
    '-h',
    '127.0.0.1',
    '-p',
    String(pgPort),
    '-U',
    'postgres',
    'ferretdb',
  ]);

  let ferret: ChildProcess | null = null;
  const startFerretDb = async (): Promise<void> => {
    ferret = spawn(
      ferretDbBin,
      [
        '--handler=postgresql',
        `--postgresql-url=postgres://postgres@127.0.0.1:${pgPort}/ferretdb?pool_max_conns=150`,
        `--listen-addr=127.0.0.1:${mongoPort}`,
        '--debug-addr=-',
        '--state-dir=-',
        '--telemetry=disable',
        '--log-level=error',
      ],
      { stdio: 'ignore' },
    );
    const client = new MongoClient(`mongodb://127.0.0.1:${mongoPort}/`, {
      serverSelectionTimeoutMS: 15_000,
    });
    try {
      await client.db('admin').command({ ping: 1 });
    } finally {
      await client.close();
    }
  };
  const stopFerretDb = async (): Promise<void> => {
    const running = ferret;
    ferret = null;
    if (running?.exitCode !== null) return;
    const exited = once(running, 'exit');
    running.kill('SIGKILL');
    await exited;
  };
  await startFerretDb();
  return {
    mongoUrl: `mongodb://127.0.0.1:${mongoPort}/drill`,
    startFerretDb,
    stopFerretDb,
    startPostgres,
    stopPostgres,
    close: async () => {
      await stopFerretDb();
      await stopPostgres().catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
