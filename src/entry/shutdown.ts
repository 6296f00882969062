import type { Logger } from '../logging/logger';

/** Something the process must close on its way out, in order. */
export interface Closable {
  name: string;
  close: () => Promise<void>;
}

/**
 * Installs SIGTERM/SIGINT handlers that close `closables` in order (stop accepting first, then
 * workers, then connections) and exit 0, or 1 when the deadline passes or a close fails.
 */
export function installShutdown(closables: Closable[], logger: Logger, timeoutMs: number): void {
  let shuttingDown = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown deadline passed; exiting');
      process.exit(1);
    }, timeoutMs);
    deadline.unref();
    let failed = false;
    for (const closable of closables) {
      try {
        await closable.close();
        logger.debug({ closed: closable.name }, 'closed');
      } catch (error) {
        failed = true;
        logger.error({ err: error, closing: closable.name }, 'close failed');
      }
    }
    logger.info('shut down');
    process.exit(failed ? 1 : 0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}
