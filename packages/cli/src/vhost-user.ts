import { createVbus, GuestAllocator, InProcessConnector, RegionMemory } from '@vbus/core';
import { attachPeer, GuestResponder, LearningSwitch, parseMac } from '@vbus/net';
import { PcapFile } from '@vbus/net/node';
import { VhostUserServer } from '@vbus/vhost-user/node';
import { nicPlugins } from './demo-nic.js';
import { openGuestNic } from '@vbus/guest-nic';

export interface VhostUserOptions {
  socket: string;
  ip: string;
  pcap?: string;
  /**
   * The MAC the front end gives the NIC (QEMU: `-device virtio-net-pci,mac=...`; QEMU's default for
   * the first NIC is 52:54:00:12:34:56). The guest reads its MAC from QEMU, not from us, and the
   * switch's port security admits only frames from the MAC the device's port was given.
   */
  mac?: string;
  /** Hide EVENT_IDX from the front end (to measure notifications without it). */
  noEventIdx?: boolean;
  log?: (line: string) => void;
}

/** The MAC QEMU gives its first NIC when none is set. */
export const QEMU_DEFAULT_MAC = '52:54:00:12:34:56';

function parseMacOption(option: string, text: string): Uint8Array {
  try {
    return parseMac(text);
  } catch (e) {
    throw new Error(`${option}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** A running `vbus vhost-user`: the back end, the switch, and the TypeScript guest with its responder. */
export interface VhostUserService {
  readonly server: VhostUserServer;
  readonly responder: GuestResponder;
  readonly sw: LearningSwitch;
  close(): Promise<void>;
}

/**
 * Serve the virtio-net device over vhost-user on `socket`, its backend a learning switch on which a
 * TypeScript guest (venet NIC, the IPv4 responder at `ip`) also sits.
 */
export async function startVhostUser(o: VhostUserOptions): Promise<VhostUserService> {
  const ipm = /^(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?$/.exec(o.ip);
  if (!ipm) throw new Error(`--ip must be an IPv4 address with an optional prefix, like 192.0.2.1/24, got "${o.ip}"`);
  const pcap = o.pcap ? PcapFile.open(o.pcap) : undefined;
  const sw = new LearningSwitch({ name: 'vhost-user', capture: pcap?.sink });
  const server = new VhostUserServer({
    socket: o.socket,
    device: { backend: sw, mac: parseMacOption('--mac', o.mac ?? QEMU_DEFAULT_MAC) },
    maskFeatures: o.noEventIdx ? 1n << 29n : 0n,
    log: o.log,
  });
  const { modules, nics } = await nicPlugins();
  const { vbus } = createVbus({ modules });
  const bus = vbus.createBus('vhost-user');
  bus.createDevice(nics.venet!.type, 'guest0', { backend: sw });
  const mem = RegionMemory.create(0x10000, 16 << 20);
  const conn = new InProcessConnector(bus, mem, { guest: 'vhost-user' }).open('guest0');
  const nic = await openGuestNic('venet', conn, new GuestAllocator(0x10000, 16 << 20));
  const responder = new GuestResponder({ mac: nic.mac, ip: ipm[1]!, prefixLength: ipm[2] ? Number(ipm[2]) : 24, timeoutMs: 20_000 });
  attachPeer(nic, responder);
  return {
    server,
    responder,
    sw,
    close: async () => {
      server.close();
      await conn.close();
      await sw.close();
      await pcap?.close();
    },
  };
}

/** `vbus vhost-user`: run until SIGINT/SIGTERM, then print the counters. */
export async function vhostUser(o: VhostUserOptions): Promise<void> {
  const s = await startVhostUser(o);
  console.log(
    `vbus vhost-user: listening on ${o.socket}; guest ${o.ip}${o.pcap ? `, capturing to ${o.pcap}` : ''}\n` +
      `  QEMU: -object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem -chardev socket,id=c0,path=${o.socket} -netdev vhost-user,id=n0,chardev=c0 -device virtio-net-pci,netdev=n0,mac=${o.mac ?? QEMU_DEFAULT_MAC}`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const t = s.server.transitions();
  console.log(
    `sessions ${s.server.sessions}; kicks ${t.kicks} (wakeups ${t.kickWakeups}); calls ${t.calls} (coalesced into an unread one ${t.callsCoalesced}, no call fd ${t.callsSuppressed})`,
  );
  console.log(`device: ${JSON.stringify(s.server.device.counters())}`);
  await s.close();
}
