import { describe, expect, it } from 'vitest';
import { batches } from '../../src/schedule/closed.js';

describe('batches', () => {
  it('opens full batches, then the remainder', () => {
    expect(batches(10, 4)).toEqual([4, 4, 2]);
    expect(batches(12, 4)).toEqual([4, 4, 4]);
    expect(batches(3, 10)).toEqual([3]);
    expect(batches(0, 5)).toEqual([]);
    expect(batches(10_000, 1000)).toEqual(new Array(10).fill(1000));
  });

  it('rejects a bad count or batch size', () => {
    expect(() => batches(-1, 5)).toThrow('connections must be a whole number >= 0, got -1');
    expect(() => batches(2.5, 5)).toThrow('connections must be a whole number >= 0, got 2.5');
    expect(() => batches(10, 0)).toThrow('batch size must be a whole number >= 1, got 0');
  });
});
