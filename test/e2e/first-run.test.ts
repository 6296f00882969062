import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { freePort } from '../../test-kit/free-port';
import { prepareTestMachine } from '../support/global-setup';
import { childEnv, mongoUrl, redisUrl } from '../support/test-env';

// A fresh machine and an unusual checkout: what `npm test` and `npm start` must manage alone.

const repoRoot = path.join(__dirname, '../..');
const isRoot = process.getuid?.() === 0;

function portAnswers(port: number): boolean {
  try {
    execFileSync('bash', ['-c', `(exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null`]);
    return true;
  } catch {
    return false;
  }
}

describe("npm test's global setup", () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'offboard-chromium-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('installs Chromium for the browser test when it is missing (apt-get as root)', () => {
    // A stand-in apt-get first on PATH: it records its calls and "installs" the browser.
    const bin = path.join(dir, 'bin');
    const browser = path.join(dir, 'chromium');
    const calls = path.join(dir, 'apt-calls');
    mkdirSync(bin);
    writeFileSync(
      path.join(bin, 'apt-get'),
      `#!/bin/sh\necho "$*" >>'${calls}'\n` +
        `case "$*" in *install*chromium*) printf '#!/bin/sh\\n' >'${browser}'; chmod +x '${browser}';; esac\n`,
      { mode: 0o755 },
    );
    prepareTestMachine({
      ...childEnv(),
      PATH: `${bin}:${childEnv().PATH ?? ''}`,
      CHROMIUM_PATH: browser,
      OFFBOARD_DATA_DIR: path.join(dir, 'data'),
      // The shared services are up already; only the browser step is under test.
      MONGO_URL: mongoUrl,
      REDIS_URL: redisUrl,
    });
    const called = existsSync(calls) ? readFileSync(calls, 'utf8') : '';
    if (isRoot) {
      expect(called).toMatch(/install -y -qq chromium/);
      expect(existsSync(browser)).toBe(true);
    } else {
      // Not root: nothing is installed, the script says how (and the other tests still run).
      expect(called).toBe('');
    }
  });

  it('leaves an installed Chromium alone', () => {
    const bin = path.join(dir, 'bin');
    const browser = path.join(dir, 'chromium');
    const calls = path.join(dir, 'apt-calls');
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'apt-get'), `#!/bin/sh\necho "$*" >>'${calls}'\n`, {
      mode: 0o755,
    });
    writeFileSync(browser, '#!/bin/sh\n', { mode: 0o755 });
    prepareTestMachine({
      ...childEnv(),
      PATH: `${bin}:${childEnv().PATH ?? ''}`,
      CHROMIUM_PATH: browser,
      OFFBOARD_DATA_DIR: path.join(dir, 'data'),
      MONGO_URL: mongoUrl,
      REDIS_URL: redisUrl,
    });
    expect(existsSync(calls)).toBe(false);
  });
});

describe('the local services from a folder only its owner can enter (mode 700)', () => {
  let dir: string;
  let script: string;
  let env: NodeJS.ProcessEnv;
  const ports = { redis: 0, pg: 0, mongo: 0 };

  const services = (...args: string[]): string =>
    execFileSync('bash', [script, ...args], { env, encoding: 'utf8', stdio: 'pipe' });

  beforeAll(async () => {
    // As `mktemp -d` and /root are: the postgres user cannot enter it.
    dir = mkdtempSync(path.join(tmpdir(), 'offboard-private-'));
    chmodSync(dir, 0o700);
    mkdirSync(path.join(dir, 'project/scripts'), { recursive: true });
    script = path.join(dir, 'project/scripts/services.sh');
    copyFileSync(path.join(repoRoot, 'scripts/services.sh'), script);
    ports.redis = await freePort();
    ports.pg = await freePort();
    ports.mongo = await freePort();
    env = {
      PATH: childEnv().PATH,
      HOME: childEnv().HOME,
      // Free ports, so the shared services on the default ones are not touched; FerretDB's
      // binary from the checkout's cache rather than a two-minute build.
      OFFBOARD_REDIS_PORT: String(ports.redis),
      OFFBOARD_PG_PORT: String(ports.pg),
      OFFBOARD_MONGO_PORT: String(ports.mongo),
      OFFBOARD_CACHE_DIR: path.join(repoRoot, '.cache'),
    };
  });

  afterAll(() => {
    try {
      services('stop');
    } finally {
      const home = path.join(dir, 'project/.data/pg-home');
      if (existsSync(home)) rmSync(readFileSync(home, 'utf8').trim(), { recursive: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('starts Redis, PostgreSQL and FerretDB, serves a write, and stops them', async () => {
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    services('start', '--quiet');
    expect(services('status')).toMatch(
      new RegExp(
        `redis: answers on ${ports.redis}\npostgresql: answers on ${ports.pg}\n[\\s\\S]*mongodb \\(FerretDB\\): answers on ${ports.mongo}`,
      ),
    );
    if (isRoot) {
      // The cluster went where the postgres user can reach it, and .data remembers where.
      const home = readFileSync(path.join(dir, 'project/.data/pg-home'), 'utf8').trim();
      expect(home).toMatch(/^\/var\/tmp\/offboard-pg-[0-9a-f]{16}$/);
      expect(existsSync(path.join(home, 'pg/PG_VERSION'))).toBe(true);
    }

    const client = new MongoClient(`mongodb://127.0.0.1:${ports.mongo}/first_run`);
    try {
      await client.connect();
      await client
        .db()
        .collection('things')
        .insertOne({ _id: 'one' } as never);
      expect(await client.db().collection('things').countDocuments()).toBe(1);
    } finally {
      await client.close();
    }

    services('stop');
    expect([portAnswers(ports.redis), portAnswers(ports.pg), portAnswers(ports.mongo)]).toEqual([
      false,
      false,
      false,
    ]);
    // The suite's own store and Redis still answer.
    const shared = [new URL(mongoUrl), new URL(redisUrl)].map((url) => Number(url.port));
    expect(shared.map(portAnswers)).toEqual([true, true]);
  }, 120_000);
});
