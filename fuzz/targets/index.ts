/** Every fuzz target, in round-robin order. */
import type { FuzzTarget } from '../target.js';
import { controlTarget } from './control.js';
import { ioqTarget } from './ioq.js';
import { venetCallsTarget } from './venet-calls.js';
import { venetTxTarget } from './venet-tx.js';
import { virtioNetTarget } from './virtio-net.js';
import { vhostUserTarget } from './vhost-user.js';
import { virtioPackedTarget, virtioSplitTarget } from './virtq.js';

export const targets: readonly FuzzTarget[] = [ioqTarget, venetTxTarget, venetCallsTarget, virtioSplitTarget, virtioPackedTarget, virtioNetTarget, controlTarget, vhostUserTarget];

export function targetNamed(name: string): FuzzTarget {
  const t = targets.find((x) => x.name === name);
  if (!t) throw new Error(`no fuzz target "${name}" (known: ${targets.map((x) => x.name).join(', ')})`);
  return t;
}
