// docs/embedding.md, "Clock, random source, logger": the services an embedder rebinds.
// Type-checked and run by test/embedding-core-examples.test.ts.
import { Container } from 'inversify';
import { Clock, createVbus, Logger, RandomSource, type LogFields } from '@vbus/core';
import { venetModule } from '@vbus/venet';

export function servicesExample(): { mac: unknown; now: number; records: string[] } {
  // #region services
  let simulatedMs = 0; // the embedder's own clock, advanced by its main loop
  const records: string[] = [];
  const log = (level: string) => (message: string, fields?: LogFields) => records.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);

  const container = new Container();
  container.bind<Clock>(Clock).toConstantValue({ now: () => simulatedMs });
  container.bind<RandomSource>(RandomSource).toConstantValue((into) => into.fill(0x42)); // not random at all
  container.bind<Logger>(Logger).toConstantValue({ debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') });
  const { vbus } = createVbus({ container, modules: [venetModule] });

  const bus = vbus.createBus('b');
  bus.createDevice('virtual-ethernet', 'venet0', {}); // its default MAC comes from the RandomSource: 42:42:42:42:42:42
  simulatedMs = 1234;
  const now = bus.clock.now(); // 1234: what every device on the bus reads with DeviceContext.now()
  // #endregion services
  vbus.logger.info('embedder test record', { device: 'venet0' });
  return { mac: bus.introspect().devices[0]!.attributes.mac, now, records };
}
