import { createVbus, GuestAllocator, InProcessConnector, RegionMemory } from '@vbus/core';
import { attachPeer, connectBackends, formatMac, GuestResponder, LearningSwitch, type NetBackend } from '@vbus/net';
import { PcapFile, QemuDgramBackend, QemuStreamBackend, VdePlugBackend } from '@vbus/net/node';
import { TapBackend } from '@vbus/vhost-user/node';
import { parseHostPort } from './host-port.js';
import { openServeVxlan, printVxlanCounters, pingUntil } from './serve-vxlan.js';
import { nicPlugins } from './demo-nic.js';
import { openGuestNic } from '@vbus/guest-nic';
import { table } from './table.js';

export interface ServeOptions {
  device: string;
  ip: string;
  listen?: string;
  connect?: string;
  unix?: string;
  unixConnect?: boolean;
  udp?: string;
  tap?: string;
  pcap?: string;
  mac?: string;
  mtu?: number;
  exitAfter?: number;
  /** `VNI@REMOTE[:PORT]`, one per remote VTEP (all with one VNI). */
  vxlan?: string[];
  /** `ADDR:PORT` the VXLAN socket binds (default 0.0.0.0:4789). */
  vxlanLocal?: string;
  /** MTU of the network under the tunnel (default 1500); the guest's MTU is 50 less. */
  vxlanMtu?: number;
  /** A VDE switch to join through `vde_plug` (its control directory). */
  vde?: string;
  /** IPv4 addresses the guest pings, one after the other (three replies wanted from each), once it is up. */
  ping?: string[];
}

/**
 * One guest with the IPv4 responder, its NIC's backend on a QEMU-compatible socket, so a QEMU VM
 * started with -netdev stream/socket/dgram joins the same Ethernet segment. Runs until SIGINT or
 * SIGTERM (or --exit-after), then prints its counters.
 */
export async function serve(o: ServeOptions): Promise<void> {
  const { modules, nics } = await nicPlugins();
  const spec = nics[o.device];
  if (!spec) throw new Error(`--device must be one of ${Object.keys(nics).join(', ')}, got "${o.device}"`);
  const ipm = /^(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?$/.exec(o.ip);
  if (!ipm) throw new Error(`--ip must be an IPv4 address with an optional prefix, like 192.0.2.1/24, got "${o.ip}"`);
  const modes = [o.listen, o.connect, o.unix, o.udp, o.tap].filter((x) => x !== undefined).length;
  const tunnels = o.vxlan?.length ?? 0;
  if (modes > 1 || (modes === 0 && tunnels === 0 && o.vde === undefined))
    throw new Error(
      'give exactly one of --listen HOST:PORT, --connect HOST:PORT, --unix PATH, --udp LOCAL_PORT:REMOTE_PORT, --tap NAME, or --vxlan VNI@REMOTE or --vde SWITCH (with or without one of the others)',
    );
  if (tunnels === 0 && (o.vxlanLocal !== undefined || o.vxlanMtu !== undefined)) throw new Error('--vxlan-local and --vxlan-mtu need --vxlan VNI@REMOTE');
  for (const p of o.ping ?? []) if (!/^\d+\.\d+\.\d+\.\d+$/.test(p)) throw new Error(`--ping must be an IPv4 address, got "${p}"`);
  const vxlan = tunnels > 0 ? await openServeVxlan(o.vxlan!, o.vxlanLocal, o.vxlanMtu, o.mtu) : undefined;
  const mtu = o.mtu ?? vxlan?.backend.innerMtu;
  const vde = o.vde !== undefined ? await VdePlugBackend.open({ socket: o.vde }).catch((e: Error) => Promise.reject(new Error(`--vde: ${e.message}`))) : undefined;

  let socket: NetBackend | undefined;
  let where = '';
  if (modes === 0) {
    // the tunnel is the only uplink
  } else if (o.listen) {
    const b = await QemuStreamBackend.listen(parseHostPort('--listen', o.listen));
    const a = b.address();
    where = 'host' in a ? `listening on ${a.host}:${a.port} (QEMU: -netdev stream,id=n0,server=off,addr.type=inet,addr.host=${a.host},addr.port=${a.port})` : '';
    socket = b;
  } else if (o.connect) {
    socket = await QemuStreamBackend.connect(parseHostPort('--connect', o.connect));
    where = `connected to ${o.connect}`;
  } else if (o.unix) {
    socket = o.unixConnect ? await QemuStreamBackend.connect({ path: o.unix }) : await QemuStreamBackend.listen({ path: o.unix });
    where = `${o.unixConnect ? 'connected to' : 'listening on'} unix socket ${o.unix}`;
  } else if (o.tap) {
    // the kernel completes its checksums: the responder's NICs need whole frames
    const tap = TapBackend.open(o.tap, { checksumOffload: false });
    where = `on TAP interface ${tap.name} (the host's network stack)`;
    socket = tap;
  } else {
    const m = /^(\d{1,5}):(\d{1,5})$/.exec(o.udp!);
    if (!m || Number(m[1]) > 65535 || Number(m[2]) > 65535) throw new Error(`--udp must be LOCAL_PORT:REMOTE_PORT, got "${o.udp}"`);
    socket = await QemuDgramBackend.open({ local: { host: '127.0.0.1', port: Number(m[1]) }, remote: { host: '127.0.0.1', port: Number(m[2]) } });
    where = `udp 127.0.0.1:${m[1]} <-> 127.0.0.1:${m[2]} (QEMU: -netdev dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port=${m[2]},remote.type=inet,remote.host=127.0.0.1,remote.port=${m[1]})`;
  }
  const pcap = o.pcap ? PcapFile.open(o.pcap) : undefined;
  const sw = new LearningSwitch({ name: 'serve', capture: pcap?.sink });
  const cable = socket ? connectBackends(sw, socket, { name: 'socket' }) : undefined;
  const tunnel = vxlan ? connectBackends(sw, vxlan.backend, { name: 'vxlan' }) : undefined;
  if (vxlan) where = `${where}${where ? ', ' : ''}${vxlan.where}`;
  const vdeCable = vde ? connectBackends(sw, vde, { name: 'vde' }) : undefined;
  if (vde) where = `${where}${where ? ', ' : ''}on VDE switch ${o.vde} (vde_plug pid ${vde.pid})`;

  const { vbus } = createVbus({ modules });
  const bus = vbus.createBus('serve');
  bus.on('device-failed', (d, e) => console.error(`device ${d.name} failed: ${e.message}`));
  bus.createDevice(spec.type, 'nic0', { mac: o.mac, mtu, backend: sw });
  const mem = RegionMemory.create(0x10000, 16 << 20);
  const conn = new InProcessConnector(bus, mem, { guest: 'serve' }).open('nic0');
  const nic = await openGuestNic(spec.kind, conn, new GuestAllocator(0x10000, 16 << 20));
  const responder = new GuestResponder({ mac: nic.mac, ip: ipm[1]!, prefixLength: ipm[2] ? Number(ipm[2]) : 24, mtu });
  attachPeer(nic, responder);
  const macText = formatMac(nic.mac);
  console.log(`vbus serve: ${o.device} ${macText} ${o.ip} ${where}${pcap ? `, capturing to ${o.pcap}` : ''}`);

  const pinging = o.ping?.length ? pingUntil(responder, o.ping, 3) : undefined;
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (o.exitAfter) setTimeout(stop, o.exitAfter * 1000).unref();
    // a plug that ends (switch gone, wrong path) ends the serve, with its message and status 1
    vde?.on('error', (e) => {
      console.error(`vbus serve: --vde: ${e.message}`);
      process.exitCode = 1;
      stop();
    });
  });
  const dev = bus.introspect().devices[0]!;
  const c = dev.counters as Record<string, Record<string, number>>;
  const rows: Array<Array<string | number>> = [['queue', 'frames', 'bytes', 'drops', 'kicks', 'interrupts', 'suppressed']];
  for (const [q, v] of Object.entries(c)) if (typeof v === 'object') rows.push([q, v.frames ?? 0, v.bytes ?? 0, v.drops ?? 0, v.kicks ?? 0, v.interrupts ?? 0, v.suppressed ?? 0]);
  console.log(table(rows));
  console.log(
    `responder: ${Object.entries(responder.counters)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  if (vxlan) printVxlanCounters(vxlan.backend);
  pinging?.stop();
  cable?.disconnect();
  tunnel?.disconnect();
  vdeCable?.disconnect();
  if (vde)
    console.log(
      `vde: ${Object.entries(vde.counters)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
  await conn.close();
  await sw.close();
  await socket?.close();
  await vxlan?.backend.close();
  await vde?.close();
  await pcap?.close();
}
