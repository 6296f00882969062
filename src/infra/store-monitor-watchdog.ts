import type { Connection } from 'mongoose';
import type { Logger } from '../logging/logger';
import { storeTimings } from './mongo-connection';

/**
 * The longest a healthy driver goes without a heartbeat event: a heartbeat that connects and
 * then handshakes takes at most two connect timeouts, and the next one starts a heartbeat period
 * after it ends. The margin covers a busy event loop.
 */
export const monitorStallMs =
  2 * storeTimings.connectTimeoutMS + storeTimings.heartbeatFrequencyMS + 5_000;

/** Whether the driver's server monitor has gone silent for longer than a healthy one can. */
export function isMonitorStalled(lastEventAt: number, now: number, stallMs: number): boolean {
  return now - lastEventAt > stallMs;
}

const heartbeatEvents = [
  'serverHeartbeatStarted',
  'serverHeartbeatSucceeded',
  'serverHeartbeatFailed',
] as const;

/** A running {@link watchStoreMonitor}. */
export interface StoreMonitorWatchdog {
  /** How many times the driver client was replaced. */
  reopened: () => number;
  stop: () => void;
}

/**
 * Replaces the store connection's driver client when its server monitor stops.
 *
 * Why: the MongoDB Node driver (7.x) can wedge its monitor for good when the network drops
 * every socket at once. A heartbeat that starts on the monitor's connection just as that socket
 * dies writes to the destroyed socket and awaits a `drain` event that never comes (no socket
 * timeout fires on a destroyed socket). No heartbeat ever runs again, the server stays
 * `Unknown`, and every operation fails server selection while the store itself answers. Seen in
 * the flaky-network drill; the only way out from outside the driver is a new client.
 */
export function watchStoreMonitor(
  connection: Connection,
  reopen: () => Promise<void>,
  options: {
    logger: Logger;
    stallMs?: number;
    checkEveryMs?: number;
    onReopened?: () => void;
  },
): StoreMonitorWatchdog {
  const stallMs = options.stallMs ?? monitorStallMs;
  let lastEventAt = Date.now();
  let reopened = 0;
  let reopening = false;
  const heard = (): void => {
    lastEventAt = Date.now();
  };
  const watched = new WeakSet<object>();
  const listen = (): void => {
    const client = connection.getClient();
    if (watched.has(client)) return;
    watched.add(client);
    for (const event of heartbeatEvents) client.on(event, heard);
  };
  listen();

  const check = async (): Promise<void> => {
    if (reopening || !isMonitorStalled(lastEventAt, Date.now(), stallMs)) return;
    reopening = true;
    options.logger.error(
      { silentForMs: Date.now() - lastEventAt },
      'the store client stopped monitoring its server: replacing it',
    );
    try {
      await reopen();
      reopened += 1;
      listen();
      heard();
      options.onReopened?.();
      options.logger.warn({ reopened }, 'store client replaced');
    } catch (error) {
      // The store may really be away: the next check tries again.
      options.logger.error({ err: error }, 'could not replace the store client');
    } finally {
      reopening = false;
    }
  };
  const timer = setInterval(() => {
    void check();
  }, options.checkEveryMs ?? 5_000);
  timer.unref();

  return {
    reopened: () => reopened,
    stop: () => {
      clearInterval(timer);
    },
  };
}
