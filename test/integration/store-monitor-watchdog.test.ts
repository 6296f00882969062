import type { Connection } from 'mongoose';
import { connectMongo, reopenMongo } from '../../src/infra/mongo-connection';
import {
  watchStoreMonitor,
  type StoreMonitorWatchdog,
} from '../../src/infra/store-monitor-watchdog';
import { createLogger } from '../../src/logging/logger';
import { createModels, type Models } from '../../src/models/create-models';
import { orgFixture } from '../support/factories';
import { eventually } from '../support/service-process';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
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

describe('the store monitor watchdog', () => {
  let proxy: TcpProxy;
  let url: string;
  let mongo: Connection;
  let models: Models;
  let watchdog: StoreMonitorWatchdog | undefined;
  const dbName = uniqueName('watchdog');

  beforeAll(async () => {
    const target = new URL(mongoUrl);
    proxy = await startTcpProxy(target.hostname, Number(target.port || 27017));
    const viaProxy = new URL(mongoUrl);
    viaProxy.port = String(proxy.port);
    viaProxy.searchParams.set('directConnection', 'true');
    url = viaProxy.toString();
    mongo = await connectMongo(url, { dbName });
    models = createModels(mongo);
    await models.organizations.create(orgFixture());
  });

  afterAll(async () => {
    watchdog?.stop();
    await mongo.dropDatabase().catch(() => undefined);
    await mongo.close();
    await proxy.close();
  });

  it('replaces a client whose monitor is stuck, and the models work again', async () => {
    let reported = 0;
    watchdog = watchStoreMonitor(mongo, () => reopenMongo(mongo, url, { dbName }), {
      logger: createLogger({ logLevel: 'silent' }),
      stallMs: 4_000,
      checkEveryMs: 250,
      onReopened: () => (reported += 1),
    });
    wedgeMonitor(mongo);
    // An operation's network error marks the server unknown, and only the (stuck) monitor
    // could mark it known again: the store is back, yet every operation fails.
    await proxy.cut();
    expect(await readable(models)).toBe(false);
    await proxy.restore();
    expect(await readable(models)).toBe(false);
    expect(watchdog.reopened()).toBe(0);

    await eventually(() => readable(models), 30_000, 'the store to answer through the models');
    expect(watchdog.reopened()).toBe(1);
    expect(reported).toBe(1);
    const stillThere = await models.organizations.countDocuments({});
    expect(stillThere).toBe(1);
  }, 60_000);

  it('leaves a healthy client alone while the store is merely away', async () => {
    const before = watchdog?.reopened() ?? 0;
    await proxy.cut();
    // Heartbeats fail (connection refused) rather than stop: the watchdog must not interfere.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    await proxy.restore();
    await eventually(() => readable(models), 30_000, 'the store to answer again');
    expect(watchdog?.reopened()).toBe(before);
  }, 60_000);
});
