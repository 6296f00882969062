import type { Connection } from 'mongoose';
import { connectMongo, reopenMongo } from '../../src/infra/mongo-connection';
import {
  watchStoreMonitor,
  type StoreMonitorWatchdog,
} from '../../src/infra/store-monitor-watchdog';
import { createLogger } from '../../src/logging/logger';
import { createModels, type Models } from '../../src/models/create-models';
import { orgFixture } from '../../test-kit/factories';
import { eventually } from '../../test-kit/service-process';
import { startTcpProxy, type TcpProxy } from '../../test-kit/tcp-proxy';
import { mongoUrl, uniqueName } from '../support/test-env';

interface DriverInternals {
  topology?: {
    s: {
      servers: Map<
        string,
        { monitor?: { connection?: { socket: NodeJS.EventEmitter & { destroy: () => void } } } }
      >;
    };
  };
}

/**
 * Puts the driver's monitor into the state the flaky-network drill found it in: its connection
 * believes its socket is open while the socket is gone, so the next heartbeat writes to a
 * destroyed socket and waits for good. (In the drill, a cut delivers the socket's close just
 * after the heartbeat starts; here the close is never delivered, which makes it certain.)
 */
function wedgeMonitor(mongo: Connection): void {
  const client = mongo.getClient() as unknown as DriverInternals;
  const server = [...(client.topology?.s.servers.values() ?? [])][0];
  const socket = server?.monitor?.connection?.socket;
  if (!socket) throw new Error('the driver has no monitor connection to wedge');
  socket.removeAllListeners('close');
  socket.removeAllListeners('error');
  socket.destroy();
}

const readable = async (models: Models): Promise<boolean> => {
  try {
    await models.organizations.findOne({}).lean();
    return true;
  } catch {
    return false;
  }
};

/** A client of its own through a proxy of its own, with a watchdog: one per test. */
interface Watched {
  proxy: TcpProxy;
  mongo: Connection;
  models: Models;
  watchdog: StoreMonitorWatchdog;
  /** Times the watchdog reported a replaced client. */
  reported: () => number;
  close: () => Promise<void>;
}

async function openWatched(stallMs: number, checkEveryMs: number): Promise<Watched> {
  const target = new URL(mongoUrl);
  const proxy = await startTcpProxy(target.hostname, Number(target.port || 27017));
  const viaProxy = new URL(mongoUrl);
  viaProxy.port = String(proxy.port);
  viaProxy.searchParams.set('directConnection', 'true');
  const url = viaProxy.toString();
  const dbName = uniqueName('watchdog');
  const mongo = await connectMongo(url, { dbName });
  const models = createModels(mongo);
  await models.organizations.create(orgFixture());
  let reported = 0;
  const watchdog = watchStoreMonitor(mongo, () => reopenMongo(mongo, url, { dbName }), {
    logger: createLogger({ logLevel: 'silent' }),
    stallMs,
    checkEveryMs,
    onReopened: () => (reported += 1),
  });
  return {
    proxy,
    mongo,
    models,
    watchdog,
    reported: () => reported,
    close: async () => {
      watchdog.stop();
      await proxy.restore().catch(() => undefined);
      await mongo.dropDatabase().catch(() => undefined);
      await mongo.close();
      await proxy.close();
    },
  };
}

describe('the store monitor watchdog', () => {
  const opened: Watched[] = [];
  afterEach(async () => {
    for (const watched of opened.splice(0)) await watched.close();
  });

  it('replaces a client whose monitor is stuck, and the models work again', async () => {
    const w = await openWatched(4_000, 250);
    opened.push(w);
    wedgeMonitor(w.mongo);
    // An operation's network error marks the server unknown, and only the (stuck) monitor
    // could mark it known again: the store is back, yet every operation fails.
    await w.proxy.cut();
    expect(await readable(w.models)).toBe(false);
    await w.proxy.restore();
    expect(await readable(w.models)).toBe(false);
    expect(w.watchdog.reopened()).toBe(0);

    await eventually(() => readable(w.models), 30_000, 'the store to answer through the models');
    expect(w.watchdog.reopened()).toBe(1);
    expect(w.reported()).toBe(1);
    const stillThere = await w.models.organizations.countDocuments({});
    expect(stillThere).toBe(1);
  }, 60_000);

  it('leaves a healthy client alone while the store is merely away for longer than the limit', async () => {
    const stallMs = 4_000;
    const checkEveryMs = 250;
    const w = await openWatched(stallMs, checkEveryMs);
    opened.push(w);
    let failedHeartbeats = 0;
    w.mongo.getClient().on('serverHeartbeatFailed', () => (failedHeartbeats += 1));
    const cutAt = Date.now();
    await w.proxy.cut();
    // Heartbeats fail (connection refused) rather than stop: the watchdog must not interfere.
    // The outage lasts past the limit and several checks, with failing heartbeats seen.
    await eventually(
      () =>
        Promise.resolve(failedHeartbeats >= 2 && Date.now() - cutAt > stallMs + 2 * checkEveryMs),
      30_000,
      'an outage longer than the limit, with failing heartbeats',
    );
    expect(await readable(w.models)).toBe(false);
    await w.proxy.restore();
    await eventually(() => readable(w.models), 30_000, 'the store to answer again');
    expect(w.watchdog.reopened()).toBe(0);
    expect(w.reported()).toBe(0);
  }, 60_000);
});
