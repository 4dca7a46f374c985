import type { GuestAllocator, GuestConnection } from '@vbus/core';
import { VenetDriver } from '@vbus/venet';
import { VirtioNetDriver } from '@vbus/virtio-compat';

/** What the CLI needs of a guest NIC driver, whichever plugin it is. */
export interface GuestNic {
  readonly mac: Uint8Array;
  onFrame: (frame: Uint8Array) => void;
  send(frame: Uint8Array, more?: boolean): boolean;
  flush(): void;
  attach(peer: { receive(frame: Uint8Array): unknown; setTransmit(transmit: (frame: Uint8Array) => boolean): void }): void;
  counters(): Record<string, number>;
}

/** Open the guest driver of `kind` on a connection. */
export async function openGuestNic(kind: string, conn: GuestConnection, allocator: GuestAllocator): Promise<GuestNic> {
  if (kind === 'venet') {
    const d = await VenetDriver.open(conn, allocator);
    return adapt(
      d,
      (p) => d.attach(p),
      () => ({ ...d.counters }),
    );
  }
  if (kind === 'virtio-net' || kind === 'virtio-net-packed') {
    const d = await VirtioNetDriver.open(conn, allocator, { ring: kind === 'virtio-net-packed' ? 'packed' : 'split' });
    return adapt(
      d,
      (p) => {
        p.setTransmit((f) => d.send(f));
        d.onFrame = (f) => {
          p.receive(f);
        };
      },
      () => ({ ...d.counters }),
    );
  }
  throw new Error(`no guest driver for NIC kind "${kind}"`);
}

/** What both drivers have in common: a MAC, the `onFrame` hook, `send` and `flush`. */
interface NicDriver {
  readonly mac: Uint8Array;
  onFrame: (frame: Uint8Array) => void;
  send(frame: Uint8Array, more?: boolean): boolean;
  flush(): void;
}

/** A {@link GuestNic} over a driver, with `onFrame` passed through; `attach` and `counters` as the driver needs. */
function adapt(d: NicDriver, attach: GuestNic['attach'], counters: GuestNic['counters']): GuestNic {
  return {
    mac: d.mac,
    get onFrame() {
      return d.onFrame;
    },
    set onFrame(f) {
      d.onFrame = f;
    },
    send: (f, more) => d.send(f, more),
    flush: () => d.flush(),
    attach,
    counters,
  };
}
