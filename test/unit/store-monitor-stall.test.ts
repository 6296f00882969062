import { isMonitorStalled, monitorStallMs } from '../../src/infra/store-monitor-watchdog';
import { storeTimings } from '../../src/infra/mongo-connection';

describe('telling a stuck store monitor from a slow one', () => {
  it('is stalled only past the limit', () => {
    expect(isMonitorStalled(1_000, 6_000, 5_000)).toBe(false);
    expect(isMonitorStalled(1_000, 6_001, 5_000)).toBe(true);
  });

  it('never calls a heartbeat stalled that the driver may still end by itself', () => {
    // Worst healthy case: a connect that times out, a handshake that times out, then the wait.
    const slowestHealthyGap = 2 * storeTimings.connectTimeoutMS + storeTimings.heartbeatFrequencyMS;
    expect(isMonitorStalled(0, slowestHealthyGap, monitorStallMs)).toBe(false);
  });
});
