import { LearningSwitch, type LearningSwitchOptions } from './learning-switch.js';
import { LoopbackBackend } from './loopback-backend.js';
import type { NetBackendFactory } from './backend-registry.js';

/** `"switch"`: a {@link LearningSwitch} that reads the container's clock for aging and runs modelled links on its scheduler. */
export const learningSwitchFactory: NetBackendFactory<Omit<LearningSwitchOptions, 'clock' | 'scheduler' | 'capture'>> = {
  kind: 'switch',
  description: 'a learning Ethernet switch (learning, aging, flooding, port security)',
  optionKeys: ['name', 'ageMs', 'maxEntries', 'maxEntriesPerPort', 'link'],
  create: (options, services) => new LearningSwitch({ ...options, clock: services.clock, scheduler: services.scheduler }),
};

/** `"loopback"`: a {@link LoopbackBackend}, every frame a NIC sends comes back to it. */
export const loopbackFactory: NetBackendFactory<Record<string, never>> = {
  kind: 'loopback',
  description: 'sends every frame back to the NIC that sent it',
  optionKeys: [],
  create: () => new LoopbackBackend(),
};
