// A counting wrapper around a LearningSwitch: per-NIC counters that outlive device instances
// and connections, and the fate of every frame a NIC sends into the switch, decided while the
// switch forwards it (forwarding is synchronous).
import type { FrameOffload, FrameSink, LearningSwitch, NetBackend, NetBackendPort, NicInfo } from '@vbus/net';

/** What happened to the frames one NIC sent, and what it was offered, across its whole life. */
export interface NicAccount {
  /** Frames the NIC's device handed to the switch. */
  offered: number;
  /** Of those: taken by the intended receiver (the NIC whose MAC is the destination). */
  delivered: number;
  /** Of those: refused by the intended receiver (rx ring full, link down), counted there. */
  refusedRx: number;
  /** Of those: no intended receiver reached it (unknown or unplugged destination, port detached, runt). */
  droppedSwitch: number;
  /** Copies of floods offered to this NIC that were not addressed to it. */
  floodCopies: number;
  /** Frames addressed to this NIC that it accepted (placed in its rx ring). */
  rxAccepted: number;
  /** Frames addressed to this NIC that it refused. */
  rxRefused: number;
  /** Ports attached under this name so far (one per device instance or connection). */
  attaches: number;
}

function macKey(b: Uint8Array, at = 0): number {
  return b[at]! * 2 ** 40 + b[at + 1]! * 2 ** 32 + ((b[at + 2]! << 24) >>> 0) + (b[at + 3]! << 16) + (b[at + 4]! << 8) + b[at + 5]!;
}

function newAccount(): NicAccount & { accepted(): number } {
  return {
    offered: 0,
    delivered: 0,
    refusedRx: 0,
    droppedSwitch: 0,
    floodCopies: 0,
    rxAccepted: 0,
    rxRefused: 0,
    attaches: 0,
    accepted() {
      return this.rxAccepted;
    },
  };
}

export class AccountingBackend implements NetBackend {
  readonly kind = 'learning-switch';
  private readonly accounts = new Map<string, NicAccount & { accepted(): number }>();
  /** The frame being forwarded: destination MAC and whether its intended receiver took it. */
  private current: { dst: number; fate: 0 | 1 | 2 } | undefined;

  constructor(readonly sw: LearningSwitch) {}

  account(name: string): NicAccount & { accepted(): number } {
    let a = this.accounts.get(name);
    if (!a) this.accounts.set(name, (a = newAccount()));
    return a;
  }

  all(): Map<string, NicAccount & { accepted(): number }> {
    return this.accounts;
  }

  attach(nic: NicInfo, toNic: FrameSink): NetBackendPort {
    const acct = this.account(nic.name);
    acct.attaches++;
    const mine = macKey(nic.mac);
    const sink: FrameSink = {
      deliver: (frame, offload) => {
        const cur = this.current;
        const intended = cur !== undefined && cur.dst === mine;
        let ok = false;
        try {
          ok = toNic.deliver(frame, offload);
        } finally {
          if (intended) {
            cur.fate = ok ? 1 : 2;
            if (ok) acct.rxAccepted++;
            else acct.rxRefused++;
          } else acct.floodCopies++;
        }
        return ok;
      },
    };
    const port = this.sw.attach(nic, sink);
    return {
      name: port.name,
      get counters() {
        return port.counters;
      },
      deliver: (frame: Uint8Array, offload?: FrameOffload) => {
        acct.offered++;
        const outer = this.current;
        const cur = { dst: frame.length >= 6 ? macKey(frame) : -1, fate: 0 as 0 | 1 | 2 };
        this.current = cur;
        let ok = false;
        try {
          ok = port.deliver(frame, offload);
        } finally {
          this.current = outer;
          if (cur.fate === 1) acct.delivered++;
          else if (cur.fate === 2) acct.refusedRx++;
          else acct.droppedSwitch++;
        }
        return ok;
      },
      disconnect: () => port.disconnect(),
    };
  }

  close(): Promise<void> {
    return this.sw.close();
  }
}
