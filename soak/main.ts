// `npm run soak -- --minutes N [--seconds S] [--guests K] [--seed S] [--venet-only]`
import { runSoak } from './soak.js';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const seconds = opt('seconds') !== undefined ? Number(opt('seconds')) : Number(opt('minutes') ?? '1') * 60;
const guests = Number(opt('guests') ?? '4');
const seed = Number(opt('seed') ?? String(Date.now() % 100000));
if (!(seconds > 0) || !(guests >= 2)) {
  console.error('usage: npm run soak -- --minutes N | --seconds S [--guests K>=2] [--seed S] [--venet-only]');
  process.exit(2);
}
console.log(`soak: ${seconds} s, ${guests} guests, seed ${seed}`);
const r = await runSoak({ durationMs: seconds * 1000, guests, seed, virtio: !args.includes('--venet-only'), log: (l) => console.log(l) });
const byKind = new Map<string, { n: number; ok: number }>();
for (const f of r.faults) {
  const k = byKind.get(f.kind) ?? { n: 0, ok: 0 };
  k.n++;
  if (f.survived) k.ok++;
  byKind.set(f.kind, k);
}
console.log(`\nguests: ${r.guests.map((g) => `${g.name} (${g.kind})`).join(', ')}; ${r.incarnations} guest incarnations`);
console.log(`faults injected: ${r.faultsInjected}, survived: ${r.faultsSurvived} (${[...byKind].map(([k, v]) => `${k} ${v.ok}/${v.n}`).join(', ')})`);
console.log(
  `frames sent: ${r.framesSent}, delivered: ${r.framesDelivered}, dropped (counted): ${r.framesDropped} [rx refused ${r.dropped.refusedRx}, switch ${r.dropped.switch}, device before switch ${r.dropped.preSwitch}, left in rings of dead guests ${r.dropped.atFault}], flood copies ${r.floodCopies}`,
);
console.log(
  `attacks: spoofed frames sent ${r.attacks.spoofsSent}, dropped by port security ${r.attacks.spoofsDropped}; GSO bombs sent ${r.attacks.gsoBombsSent}, refused by venet ${r.attacks.gsoBombsDropped}`,
);
console.log(`frames lost: ${r.framesLost}`);
console.log(
  `heap: ${(r.heapBeforeBytes / 1048576).toFixed(1)} MB -> ${(r.heapAfterBytes / 1048576).toFixed(1)} MB (growth ${(r.heapGrowthBytes / 1048576).toFixed(2)} MB${r.gcExposed ? ', after gc' : ', no gc'})`,
);
for (const p of r.problems) console.log(`problem: ${p}`);
console.log(r.ok ? 'soak: OK' : 'soak: FAILED');
process.exit(r.ok ? 0 : 1);
