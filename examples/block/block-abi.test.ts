import { expect, it } from 'vitest';
import * as abi from './block-abi.js';

// The ABI is a promise to every driver: a change of any value here is a new ABI version.
it('pins every byte-layout constant of the vbus-block ABI', () => {
  expect({ ...abi }).toEqual({
    BLOCK_TYPE: 'vbus-block',
    BLOCK_VERSION: 1,
    BLOCK_QUEUE_REQ: 0,
    BLOCK_SECTOR_SIZE: 512,
    BLOCK_REQ_TYPE: 0,
    BLOCK_REQ_FLAGS: 4,
    BLOCK_REQ_SECTOR: 8,
    BLOCK_REQ_COUNT: 16,
    BLOCK_REQ_STATUS: 20,
    BLOCK_REQ_DATA: 24,
    BLOCK_REQ_SIZE: 32,
    BLOCK_T_READ: 0,
    BLOCK_T_WRITE: 1,
    BLOCK_T_FLUSH: 2,
    BLOCK_T_DISCARD: 3,
    BLOCK_S_OK: 0,
    BLOCK_S_IOERR: 1,
    BLOCK_S_UNSUPP: 2,
    BLOCK_S_INVALID: 3,
    BLOCK_COMPLETE_BAD_HEADER: 0xffffffff,
    BLOCK_CALL_GET_INFO: 0,
    BLOCK_INFO_CAPACITY: 0,
    BLOCK_INFO_SECTOR_SIZE: 8,
    BLOCK_INFO_MAX_SECTORS: 12,
    BLOCK_INFO_FLAGS: 16,
    BLOCK_INFO_QUEUE_MAX: 20,
    BLOCK_INFO_SIZE: 24,
    BLOCK_F_READ_ONLY: 1,
    BLOCK_F_FLUSH: 2,
    BLOCK_F_DISCARD: 4,
  });
});

it('the header fields tile the header without gaps or overlaps, each at its natural alignment', () => {
  const fields: Array<[number, number]> = [
    [abi.BLOCK_REQ_TYPE, 4],
    [abi.BLOCK_REQ_FLAGS, 4],
    [abi.BLOCK_REQ_SECTOR, 8],
    [abi.BLOCK_REQ_COUNT, 4],
    [abi.BLOCK_REQ_STATUS, 4],
    [abi.BLOCK_REQ_DATA, 8],
  ];
  let at = 0;
  for (const [off, size] of fields) {
    expect(off).toBe(at);
    expect(off % size).toBe(0);
    at += size;
  }
  expect(at).toBe(abi.BLOCK_REQ_SIZE);
  const info: Array<[number, number]> = [
    [abi.BLOCK_INFO_CAPACITY, 8],
    [abi.BLOCK_INFO_SECTOR_SIZE, 4],
    [abi.BLOCK_INFO_MAX_SECTORS, 4],
    [abi.BLOCK_INFO_FLAGS, 4],
    [abi.BLOCK_INFO_QUEUE_MAX, 4],
  ];
  at = 0;
  for (const [off, size] of info) {
    expect(off).toBe(at);
    at += size;
  }
  expect(at).toBe(abi.BLOCK_INFO_SIZE);
});
