// `vbus serve --vxlan`: the option parsing, the tunnel's set-up and its counters, and `--ping`.
import { isIP } from 'node:net';
import { VbusError } from '@vbus/core';
import type { GuestResponder } from '@vbus/net';
import { VxlanBackend, type VxlanAddress } from '@vbus/net/node';
import { parseHostPort } from './host-port.js';
import { table } from './table.js';

/**
 * Parse `VNI@REMOTE[:PORT]` (IPv6 remotes in brackets: `42@[2001:db8::1]:4789`). Throws a
 * message that names `--vxlan` and shows the bad value.
 */
export function parseVxlanSpec(text: string): { vni: number; remote: Required<VxlanAddress> } {
  const m = /^(\d{1,8})@(?:\[([^\]]+)\]|([^:@[\]]+))(?::(\d{1,5}))?$/.exec(text);
  const vni = m ? Number(m[1]) : NaN;
  const host = m ? (m[2] ?? m[3]!) : '';
  const port = m?.[4] !== undefined ? Number(m[4]) : 4789;
  if (!m || vni > 0xffffff || isIP(host) === 0 || port < 1 || port > 65535) {
    throw new Error(`--vxlan must be VNI@REMOTE[:PORT] with VNI 0..16777215, REMOTE an IP address and PORT 1..65535 (e.g. 42@192.0.2.7:4789), got "${text}"`);
  }
  return { vni, remote: { host, port } };
}

/**
 * Open the VXLAN backend `vbus serve` cables to its switch: every `--vxlan` a remote VTEP of one
 * VNI, bound to `--vxlan-local` (default 0.0.0.0:4789), outer MTU `--vxlan-mtu` (default 1500).
 * A guest `--mtu` that does not fit through the tunnel is refused here, naming both options.
 */
export async function openServeVxlan(
  specs: string[],
  local: string | undefined,
  outerMtu: number | undefined,
  guestMtu: number | undefined,
): Promise<{ backend: VxlanBackend; where: string }> {
  const parsed = specs.map(parseVxlanSpec);
  const vni = parsed[0]!.vni;
  const other = parsed.find((p) => p.vni !== vni);
  if (other) throw new Error(`--vxlan: every tunnel of one serve carries one segment, so one VNI; got ${vni} and ${other.vni}`);
  const bind = local !== undefined ? parseHostPort('--vxlan-local', local) : undefined;
  if (bind && isIP(bind.host) === 0) throw new Error(`--vxlan-local must be ADDR:PORT with ADDR an IP address, got "${local}"`);
  let backend: VxlanBackend;
  try {
    backend = await VxlanBackend.open({ vni, remotes: parsed.map((p) => p.remote), local: bind, outerMtu });
  } catch (e) {
    // a ConfigError names the option it refused; a NetError here is the bind of the local socket
    const option = VbusError.is(e) ? ('option' in e ? String(e.option) : 'local') : '';
    const name = option.startsWith('local') ? '--vxlan-local' : option === 'outerMtu' ? '--vxlan-mtu' : '--vxlan';
    throw new Error(`${name}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (guestMtu !== undefined && guestMtu > backend.innerMtu) {
    await backend.close();
    throw new Error(
      `--mtu ${guestMtu} does not fit through --vxlan: the inner MTU is the outer MTU (--vxlan-mtu ${outerMtu ?? 1500}) minus ${(outerMtu ?? 1500) - backend.innerMtu}, ${backend.innerMtu}; give --mtu ${backend.innerMtu} or less, or a larger --vxlan-mtu`,
    );
  }
  const a = backend.address();
  const remotes = backend
    .remotes()
    .map((r) => `${r.host}:${r.port}`)
    .join(', ');
  return { backend, where: `vxlan vni ${vni} on ${a.host}:${a.port} to ${remotes}, inner MTU ${backend.innerMtu}` };
}

/** Print one row per remote VTEP: frames and bytes each way and drops by reason. */
export function printVxlanCounters(b: VxlanBackend): void {
  const rows: Array<Array<string | number>> = [['vxlan remote', 'frames in', 'bytes in', 'frames out', 'bytes out', 'drops']];
  for (const r of b.remotes()) {
    const c = r.counters;
    const drops =
      Object.entries(c.drops)
        .filter(([, v]) => v > 0)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || '0';
    rows.push([`${r.host}:${r.port}`, c.framesIn, c.bytesIn, c.framesOut, c.bytesOut, drops]);
  }
  console.log(table(rows));
  const c = b.counters;
  console.log(`vxlan: flooded ${c.flooded}, forwarded ${c.forwarded}, learned ${c.learned}, foreign ${c.foreign}, too big ${c.drops.tooBig}`);
}

/**
 * `--ping ADDR`: ping each address from the guest, in turn, until `want` replies came back or
 * `want + 20` requests were sent (the far end may come up later), printing each reply and then a
 * summary line `ping ADDR: N transmitted, M received`.
 */
export function pingUntil(responder: GuestResponder, ips: string[], want: number): { stop: () => void } {
  let stopped = false;
  void (async () => {
    for (const ip of ips) {
      let sent = 0;
      let got = 0;
      for (let seq = 1; !stopped && got < want && sent < want + 20; seq++) {
        sent++;
        try {
          const r = await responder.ping(ip, 56, undefined, seq);
          got++;
          console.log(`ping ${ip}: reply from ${r.from}, seq ${r.seq}, ${r.size} data bytes, ttl ${r.ttl}`);
        } catch (e) {
          console.log(`ping ${ip}: seq ${seq}: ${e instanceof Error ? e.message : String(e)}`);
        }
        if (!stopped && got < want) await new Promise((r) => setTimeout(r, 200));
      }
      if (!stopped) console.log(`ping ${ip}: ${sent} transmitted, ${got} received`);
    }
  })();
  return { stop: () => (stopped = true) };
}
