// The allocation probes' shared part: V8's sampling heap profiler (through the inspector) around
// one run, counting the objects the garbage collector has already taken too (a flat heap can
// still churn), and a report of bytes per frame by call site.
import { Session } from 'node:inspector/promises';

interface ProfileNode {
  callFrame: { functionName: string; url: string };
  selfSize: number;
  children: ProfileNode[];
}

/** What `run` allocated on this thread, by call site (the allocating function and its two callers). */
export interface Allocations<T> {
  result: T;
  totalBytes: number;
  bySite: Map<string, number>;
}

/** Sample what `run` allocates on this thread, one sample every `samplingInterval` bytes on average. */
export async function sampleAllocations<T>(run: () => Promise<T>, samplingInterval = 256): Promise<Allocations<T>> {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', { samplingInterval, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
  const result = await run();
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: ProfileNode } };
  session.disconnect();
  const bySite = new Map<string, number>();
  let totalBytes = 0;
  const walk = (node: ProfileNode, stack: string[]): void => {
    const f = node.callFrame;
    const here = [...stack, `${f.functionName || '(anon)'} ${f.url.split('/').slice(-2).join('/')}`];
    if (node.selfSize > 0) {
      const site = here.slice(-3).reverse().join(' < ');
      bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
      totalBytes += node.selfSize;
    }
    for (const c of node.children) walk(c, here);
  };
  walk(profile.head, []);
  return { result, totalBytes, bySite };
}

/** Bytes per frame, then the `top` heaviest call sites (innermost first). */
export function allocationReport(a: Allocations<unknown>, frames: number, top = 15): string {
  const per = (bytes: number) => (bytes / Math.max(1, frames)).toFixed(1);
  const lines = [`bytes per frame ${per(a.totalBytes)}`];
  for (const [site, bytes] of [...a.bySite].sort((x, y) => y[1] - x[1]).slice(0, top)) lines.push(`${per(bytes).padStart(7)} ${site}`);
  return lines.join('\n');
}
