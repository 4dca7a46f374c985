// Baseline worker (plain JavaScript, no loader): the other thread of every baseline measurement.
// The main thread (bench/baselines.ts) sends one job at a time; this thread answers 'done'.
import { parentPort } from 'node:worker_threads';
import { RingBuffer } from 'ringbuf.js';

const port = parentPort;
port.on('message', (job) => {
  if (job.t === 'ring') ringProducer(job);
  else if (job.t === 'ringbuf') ringbufProducer(job);
  else if (job.t === 'post') postFrames(job);
  else if (job.t === 'atomics-pong') atomicsPong(job);
  else if (job.t === 'spin-pong') spinPong(job);
  else if (job.t === 'exit') port.close();
});
port.postMessage({ t: 'ready' });

// ctrl: [0] head (frames produced), [1] tail (frames consumed), [2] consumer asleep, [3] producer asleep
function ringProducer({ ctrl: ctrlBuf, data: dataBuf, lens: lensBuf, slots, slotSize, size, frames }) {
  const ctrl = new Int32Array(ctrlBuf);
  const data = new Uint8Array(dataBuf);
  const lens = new Int32Array(lensBuf);
  const frame = new Uint8Array(size);
  let head = 0;
  let notifies = 0;
  let sleeps = 0;
  for (let i = 0; i < frames; i++) {
    frame[0] = i;
    // ring full: spin briefly, then sleep on the tail
    let spins = 0;
    for (;;) {
      const tail = Atomics.load(ctrl, 1);
      if (head - tail < slots) break;
      if (++spins < 200) continue;
      Atomics.store(ctrl, 3, 1);
      if (head - Atomics.load(ctrl, 1) >= slots) {
        sleeps++;
        Atomics.wait(ctrl, 1, tail, 100);
      }
      Atomics.store(ctrl, 3, 0);
      spins = 0;
    }
    const s = head % slots;
    data.set(frame, s * slotSize);
    lens[s] = size;
    Atomics.store(ctrl, 0, ++head);
    if (Atomics.load(ctrl, 2) !== 0) {
      notifies++;
      Atomics.notify(ctrl, 0);
    }
  }
  port.postMessage({ t: 'done', notifies, sleeps });
}

// ringbuf.js used as a JavaScript developer would for frames: a 2-byte length, then the frame,
// pushed only when both fit (so a record is never split); the producer polls while the ring is full.
function ringbufProducer({ sab, size, frames }) {
  const rb = new RingBuffer(sab, Uint8Array);
  const frame = new Uint8Array(size);
  const header = new Uint8Array(2);
  header[0] = size & 0xff;
  header[1] = size >> 8;
  const need = size + 2;
  let fullPolls = 0;
  for (let i = 0; i < frames; i++) {
    frame[0] = i;
    while (rb.available_write() < need) fullPolls++;
    rb.push(header);
    rb.push(frame);
  }
  port.postMessage({ t: 'done', notifies: 0, sleeps: 0, fullPolls });
}

function postFrames({ size, frames }) {
  const frame = new Uint8Array(size);
  for (let i = 0; i < frames; i++) {
    frame[0] = i;
    port.postMessage(frame); // structured clone: one copy per frame
  }
}

function atomicsPong({ cell, rounds }) {
  const c = new Int32Array(cell);
  port.postMessage({ t: 'started' });
  for (let i = 0; i < rounds; i++) {
    const want = 2 * i + 1;
    while (Atomics.load(c, 0) !== want) Atomics.wait(c, 0, want - 1);
    Atomics.store(c, 0, want + 1);
    Atomics.notify(c, 0);
  }
  port.postMessage({ t: 'done' });
}

function spinPong({ cell, rounds }) {
  const c = new Int32Array(cell);
  port.postMessage({ t: 'started' });
  for (let i = 0; i < rounds; i++) {
    const want = 2 * i + 1;
    while (Atomics.load(c, 0) !== want);
    Atomics.store(c, 0, want + 1);
  }
  port.postMessage({ t: 'done' });
}
