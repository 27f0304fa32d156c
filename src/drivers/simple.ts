import type { Driver } from './driver.js';
import { emptyObjects } from '../reconcile/model.js';

/**
 * host and null: one predefined network each, no host objects of their own (the host namespace, or
 * a sandbox with only lo).
 */
function singleton(name: string): Driver {
  return {
    name,
    ipam: false,
    multiple: false,
    prepare: () => ({ linkName: null }),
    objects: () => emptyObjects(),
  };
}

export const hostDriver = singleton('host');
export const nullDriver = singleton('null');
