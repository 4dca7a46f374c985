/**
 * The cheapest way this runtime has to run something after the event loop turned (timers and
 * I/O got their chance): `setImmediate` under Node, a MessageChannel elsewhere. Used where work
 * a guest can cause must yield, so one guest cannot starve the loop with microtasks.
 */
type Task = () => void;

function channelMacrotask(): (fn: Task) => void {
  const queue: Task[] = [];
  const channel = new MessageChannel();
  // the web's port shape (Node's typings describe worker_threads' port instead)
  const port = channel.port1 as unknown as { onmessage: (() => void) | null; unref?: () => void };
  port.onmessage = () => queue.shift()?.();
  // an idle channel must not keep a process alive
  port.unref?.();
  return (fn) => {
    queue.push(fn);
    channel.port2.postMessage(0);
  };
}

/** Run `fn` in a later macrotask. */
export const macrotask: (fn: Task) => void = typeof setImmediate === 'function' ? (fn) => void setImmediate(fn) : channelMacrotask();

/** A promise that resolves in a later macrotask. */
export function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => macrotask(resolve));
}
