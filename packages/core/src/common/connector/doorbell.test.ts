import { describe, expect, it } from 'vitest';
import { SignalRouter } from '../bus/signal-router.js';
import { DOORBELL_CONTROL_BIT, DOORBELL_TO_HOST, MAX_DRAINS_WITHOUT_SLEEP, newDoorbell, serveDoorbell } from './doorbell.js';

describe('serveDoorbell', () => {
  it('never rejects: a throwing control callback goes to onError and the server stops', async () => {
    const cells = newDoorbell();
    const router = new SignalRouter(() => {});
    Atomics.or(cells, DOORBELL_TO_HOST, 1 << DOORBELL_CONTROL_BIT);
    const errors: unknown[] = [];
    const served = serveDoorbell(
      cells,
      DOORBELL_TO_HOST,
      router,
      () => false,
      () => {
        throw new Error('control threw');
      },
      0,
      (e) => errors.push(e),
    );
    await expect(served).resolves.toBeUndefined();
    expect(errors).toHaveLength(1);
  });

  it('a peer that keeps the sequence moving cannot hold the event loop: timers run while it rings', async () => {
    const cells = newDoorbell();
    const router = new SignalRouter(() => {});
    let stop = false;
    let drains = 0;
    const ring = () => {
      Atomics.or(cells, DOORBELL_TO_HOST, 1 << DOORBELL_CONTROL_BIT);
      Atomics.add(cells, DOORBELL_TO_HOST + 1, 1);
      Atomics.notify(cells, DOORBELL_TO_HOST + 1);
    };
    ring();
    // the "peer" rings again from inside every drain, so Atomics.waitAsync never sleeps
    const served = serveDoorbell(
      cells,
      DOORBELL_TO_HOST,
      router,
      () => stop,
      () => {
        drains++;
        ring();
      },
    );
    // before the bound, this timer never fired: the server looped synchronously for ever
    await new Promise((r) => setTimeout(r, 10));
    stop = true;
    ring();
    await served;
    expect(drains).toBeGreaterThan(MAX_DRAINS_WITHOUT_SLEEP);
  });
});
