import { expect, it } from 'vitest';
import * as abi from './virtio-rng-abi.js';

it('pins the virtio-rng ABI to virtio 1.2 §5.4', () => {
  expect({ ...abi }).toEqual({
    VIRTIO_ID_RNG: 4,
    VIRTIO_RNG_TYPE: 'virtio-rng',
    VIRTIO_RNG_QUEUE_REQUEST: 0,
    VIRTIO_RNG_NUM_QUEUES: 1,
    VIRTIO_RNG_CONFIG_SIZE: 0,
  });
});
