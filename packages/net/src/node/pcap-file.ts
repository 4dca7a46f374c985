import { createWriteStream, type WriteStream } from 'node:fs';
import type { FrameSink } from '../common/backend/net-backend.js';
import { NetError } from '../common/backend/net-error.js';
import { PcapTap, type PcapTapOptions } from '../common/backend/pcap.js';

/**
 * A pcap file on disk fed by a {@link PcapTap}. Frames are queued to an fs write stream as they
 * come; {@link close} flushes everything and closes the file.
 */
export class PcapFile {
  readonly tap: PcapTap;
  private readonly stream: WriteStream;
  private error: Error | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    readonly path: string,
    options: PcapTapOptions,
  ) {
    this.stream = createWriteStream(path);
    this.stream.on('error', (err) => {
      this.error = err;
    });
    this.tap = new PcapTap((bytes) => {
      if (this.closing === undefined) this.stream.write(bytes);
    }, options);
  }

  /** Create (truncate) the file and write the pcap global header. */
  static open(path: string, options: PcapTapOptions = {}): PcapFile {
    return new PcapFile(path, options);
  }

  /** The tap as a FrameSink (records the frame, then passes it to `options.inner` if given). */
  get sink(): FrameSink {
    return this.tap;
  }

  /** Flush and close the file. Rejects with a NetError if writing failed. */
  close(): Promise<void> {
    if (this.closing === undefined) {
      this.tap.stop();
      this.closing = new Promise<void>((resolve, reject) => {
        const fail = (err: Error): void => reject(new NetError('pcap-file', 'io', this.path, `cannot write pcap: ${err.message}`, { cause: err }));
        if (this.error) {
          fail(this.error);
          return;
        }
        this.stream.once('error', fail);
        this.stream.end(() => {
          if (this.error) fail(this.error);
          else resolve();
        });
      });
    }
    return this.closing;
  }
}
