import { describe, expect, it } from 'vitest';
import { TxRoomWaiter } from './tx-room-waiter.js';

/** A NIC whose ring stays full (txPending never drops) unless `freeAfter` looks at it. */
function fakeNic(freeAfter = Infinity) {
  let looks = 0;
  return {
    onTxWake: (): void => {},
    txPending: (): number => (++looks > freeAfter ? 0 : 256),
    get looks() {
      return looks;
    },
  };
}

describe('TxRoomWaiter', () => {
  it('polls for the first pollTurns refusals in a row, then sleeps until onTxWake', async () => {
    const nic = fakeNic();
    const idle = nic.onTxWake;
    const room = new TxRoomWaiter(nic, { pollTurns: 3, maxWaitMs: 10_000 });
    for (let i = 0; i < 3; i++) {
      await room.wait();
      expect(nic.onTxWake).toBe(idle); // a poll turn never takes the wake
    }
    let woke = false;
    const sleeping = room.wait().then(() => (woke = true));
    expect(nic.onTxWake).not.toBe(idle);
    await new Promise((r) => setTimeout(r, 20));
    expect(woke).toBe(false); // asleep: only the wake (or the bound) ends it
    nic.onTxWake();
    await sleeping;
    expect(woke).toBe(true);
    // the wake is taken once: calling the NIC's handler again does nothing
    expect(() => nic.onTxWake()).not.toThrow();
  });

  it('a send that went through starts the polling turns again', async () => {
    const nic = fakeNic();
    const idle = nic.onTxWake;
    const room = new TxRoomWaiter(nic, { pollTurns: 1, maxWaitMs: 10_000 });
    await room.wait();
    room.sent();
    await room.wait(); // polled again, not asleep
    expect(nic.onTxWake).toBe(idle);
  });

  it('room freed while it spins on the ring resolves without yielding a turn; a full ring spins spinPolls looks, then yields', async () => {
    const order: string[] = [];
    const freeing = fakeNic(40);
    setImmediate(() => order.push('turn'));
    await new TxRoomWaiter(freeing, { spinPolls: 512, pollTurns: 3 }).wait();
    order.push('room');
    expect(order).toEqual(['room']); // no turn of the loop passed
    expect(freeing.looks).toBe(41);
    await new Promise((r) => setImmediate(r)); // let that turn pass
    order.length = 0;
    const full = fakeNic();
    setImmediate(() => order.push('turn'));
    await new TxRoomWaiter(full, { spinPolls: 100, pollTurns: 3 }).wait();
    order.push('yielded');
    expect(order).toEqual(['turn', 'yielded']);
    expect(full.looks).toBe(101); // the look before the spin, and 100 in it
  });

  it('a wake that never comes ends after maxWaitMs', async () => {
    const nic = fakeNic();
    const room = new TxRoomWaiter(nic, { pollTurns: 0, maxWaitMs: 5 });
    await room.wait(); // resolves by the bound
    expect(() => nic.onTxWake()).not.toThrow();
  });
});
