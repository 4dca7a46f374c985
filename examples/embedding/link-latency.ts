// docs/embedding.md, "Links with latency and bandwidth": a switch whose ports model links, in the
// embedder's virtual time. Type-checked with the project and run by test/embedding-examples.test.ts.
import { VirtualTimeScheduler, runUntilSettled } from '@vbus/core';
import { GuestResponder, LearningSwitch, parseMac } from '@vbus/net';

/** Two hosts on a switch; port "far" is a 100 Mbit/s link with 1 ms of latency each way. */
export async function linkLatencyExample(): Promise<{ rttMs: number; virtualMs: number; far: unknown }> {
  // #region switch
  const vts = new VirtualTimeScheduler();
  const sw = new LearningSwitch({
    scheduler: vts, // the links' deliveries and the aging clock: virtual time
    link: (port) => (port.name === 'far' ? { delayMs: 1, bitsPerSecond: 100e6, queueFrames: 64 } : undefined),
  });
  // #endregion switch

  // #region hosts
  const near = new GuestResponder({ mac: parseMac('02:00:00:00:00:01'), ip: '192.0.2.1', scheduler: vts });
  const far = new GuestResponder({ mac: parseMac('02:00:00:00:00:02'), ip: '192.0.2.2', scheduler: vts });
  const nearPort = sw.attach({ name: 'near', mac: near.mac }, near);
  const farPort = sw.attach({ name: 'far', mac: far.mac }, far);
  near.setTransmit((frame) => nearPort.deliver(frame));
  far.setTransmit((frame) => farPort.deliver(frame));
  // #endregion hosts

  // #region ping
  // nothing moves until the embedder steps its time: runUntilSettled steps it until the ping is answered
  const { rttMs } = await runUntilSettled(vts, near.ping('192.0.2.2', 1000));
  // rttMs: 1042-byte frames take 8 * 1042 / 100e6 s = 83.36 µs on the wire, plus 1 ms, each way: 2.16672
  const farLink = sw.ports().find((p) => p.name === 'far')?.link; // { model, toSwitch, toNic }: frames, bytes, drops...
  // #endregion ping
  near.close();
  far.close();
  return { rttMs, virtualMs: vts.now(), far: farLink };
}
